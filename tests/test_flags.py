"""Openwashing flags: the model's own claim of openness, of a kind, against the criteria that kind promises."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import run_openness
from extractors import assess_model
from extractors import claims
from extractors.claims import claim_rules, classify_sentence, name_words, text_claims
from extractors.flags import openwashing_flag
from extractors.text import lines_of
from test_extractors import artifacts

RULES = claim_rules()


@pytest.mark.parametrize("rule", RULES.claims, ids=lambda r: r.rule_id)
def test_every_claim_rule_matches_its_real_sentences_and_not_its_counter_examples(rule):
    assert rule.examples and rule.not_examples
    for sentence in rule.examples:
        assert rule.pattern.search(sentence), sentence
    for sentence in rule.not_examples:
        assert not rule.pattern.search(sentence), sentence


@pytest.mark.parametrize("rule", RULES.not_about, ids=lambda r: r.rule_id)
def test_comparisons_thanks_tools_benchmarks_datasets_leaderboards_and_components_are_no_claim(rule):
    for sentence in rule.examples:  # real sentences from the corpus, each with an open phrase in it
        assert any(c.pattern.search(sentence) for c in RULES.claims), sentence
        assert classify_sentence(sentence, {"yi", "deepseek", "zephyr", "phi"}, first_heading=True) is None, sentence


def test_a_claim_is_about_this_model_and_has_the_strongest_kind():
    names = name_words("baichuan-inc/Baichuan2-13B-Base")
    sentence = "Baichuan 2 is the new generation of large-scale open-source language models launched by Baichuan."
    assert classify_sentence(sentence, names).kind == "open source"  # "Baichuan 2" names baichuan2
    assert classify_sentence("DBRX is a state-of-the-art open source LLM trained by Databricks Mosaic team.",
                             name_words("mosaicml/mpt-30b-instruct")) is None  # another model's claim
    gemma = "Gemma is a family of lightweight, state-of-the-art open models from Google,"
    assert classify_sentence(gemma, name_words("google/gemma-7b")).kind == "open"


def test_claims_are_quoted_at_their_line():
    model = artifacts("deepseek-ai/DeepSeek-R1", tree=False)
    found = text_claims(model)
    assert found and found[0].kind == "open source"
    line = lines_of(model.card.text)[found[0].line - 1]
    assert found[0].quote[:40] in " ".join(line.split()).replace("**", "")


def test_an_open_source_claim_breaking_every_promise_is_high():
    model = artifacts("deepseek-ai/DeepSeek-R1", tree=False)
    flag = openwashing_flag(model, assess_model(model))
    assert flag.kind == "open source" and [c for c, _ in flag.promised] == ["trainingcode", "datasources_endmodel",
                                                                              "licenses"]
    if len(flag.failing) == len(flag.promised):
        assert flag.severity == "high"
    assert flag.rule_ids[0] == "claim.open-source"


def test_unknown_never_breaks_a_promise():
    model = artifacts("deepseek-ai/DeepSeek-R1", tree=False)
    judgements = [j if j.criterion not in ("trainingcode", "datasources_endmodel", "licenses") else
                  type(j)(j.criterion, "unknown", 0.0, "not read", j.evidence) for j in assess_model(model)]
    assert openwashing_flag(model, judgements) is None


def test_broken_promises_beside_unknown_ones_reach_review_as_medium_naming_them(demo_db):
    """An open-source claim whose decided promises are all broken, the rest `unknown`, is medium (not low), and the
    flag names the undecided promises; an open-source claim breaking any promise is at least medium; open weights
    breaking only some decided promises stays low."""
    from dataclasses import replace as with_level

    from extractors.flags import severity

    model = artifacts("deepseek-ai/DeepSeek-R1", tree=False)
    levels = {"trainingcode": "closed", "datasources_endmodel": "unknown", "licenses": "unknown"}
    judgements = [with_level(j, level=levels[j.criterion]) if j.criterion in levels else j
                  for j in assess_model(model)]
    flag = openwashing_flag(model, judgements)
    assert flag.severity == "medium" and flag.failing == (("trainingcode", "closed"),)
    assert flag.undecided == ("datasources_endmodel", "licenses")
    assert {"undecided"} <= set(json.loads(run_openness("flags", "--db", str(demo_db), "--json").stdout)[0])
    assert severity(3, (("trainingcode", "closed"), ("datasources_endmodel", "closed"), ("licenses", "closed")),
                    3) == "high"
    assert severity(3, (("trainingcode", "closed"), ("datasources_endmodel", "open"), ("licenses", "open")),
                    1) == "medium"
    assert severity(2, (("weights_endmodel", "partial"), ("licenses", "unknown")), 1) == "medium"
    assert severity(2, (("weights_endmodel", "partial"), ("licenses", "open")), 1) == "low"
    assert severity(1, (("licenses", "closed"),), 1) == "low"


def test_flags_command_lists_worst_first_filters_and_shows_the_promises(demo_db):
    result = run_openness("flags", "--db", str(demo_db), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows, "the snapshot holds models that call themselves open while judged closed"
    order = {"high": 0, "medium": 1, "low": 2}
    assert [order[r["severity"]] for r in rows] == sorted(order[r["severity"]] for r in rows)
    con = sqlite3.connect(demo_db)
    for row in rows:
        assert row["kind"] in RULES.kinds and row["rule_ids"][0].startswith("claim.")
        assert [p["criterion"] for p in row["promised"]] == list(RULES.kinds[row["kind"]].promises)
        for item in row["failing_criteria"].split(","):
            criterion, level = item.split("=")
            assert level in RULES.breaking_levels
            assert con.execute("select level from judgements where subject_id = ? and criterion = ?",
                               [f"hf:model:{row['model']}", criterion]).fetchone()[0] == level
    high = json.loads(run_openness("flags", "--db", str(demo_db), "--json", "--severity", "high").stdout)
    assert high and all(r["severity"] == "high" for r in high)
    kind = json.loads(run_openness("flags", "--db", str(demo_db), "--json", "--kind", "open").stdout)
    assert all(r["kind"] == "open" for r in kind)
    assert "open source" in run_openness("flags", "--db", str(demo_db)).stdout


def test_a_reviewed_flag_is_kept_while_its_claim_and_failing_set_are_unchanged(demo_db, tmp_path):
    import shutil

    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    con = sqlite3.connect(db)
    flag_id, subject = con.execute("select id, subject_id from flags where severity = 'high' limit 1").fetchone()
    con.execute("update flags set status = 'dismissed' where id = ?", [flag_id])
    con.commit()
    assert run_openness("assess", "--force", "--db", str(db)).returncode == 0  # judged again
    rows = con.execute("select id, status from flags where subject_id = ?", [subject]).fetchall()
    assert rows == [(flag_id, "dismissed")]  # not raised again, verdict kept


def test_a_huge_one_paragraph_card_is_read_without_error():
    from extractors.types import Artifact, ModelArtifacts
    from test_extractors import model_json

    text = "---\nlicense: mit\n---\n# Model\n\n" + "We release an open-source model. " * 60_000 + "\n"
    card = Artifact("c", "card", "http://hub/x/resolve/abc/README.md", "abc", "README.md", text)
    model = ModelArtifacts("x/y", "abc", "http://hub/x/y", model_json("x/y"), card)
    assert len(text) > 1_000_000  # over spaCy's default max_length
    assert text_claims(model)[0].kind == "open source"


def test_untrusted_claims_print_as_text(demo_db, tmp_path):
    import shutil

    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    con = sqlite3.connect(db)
    con.execute("update flags set claim = ? where id = (select min(id) from flags)",
                ["[link=http://evil.example/]CLICKME[/link] \x1b[2J open-source"])
    con.commit()
    out = run_openness("flags", "--db", str(db)).stdout
    flat = "".join(out.split())
    assert "[link=http://evil.example/]CLICKME[/link]" in flat  # printed as written, not taken as a hyperlink
    assert "\x1b" not in out


def test_quotes_drop_control_characters():
    from extractors.text import quote

    assert quote("open\x1b[31m source\x07") == "open[31m source"


def test_assess_keeps_a_flag_an_analyst_reviewed_in_the_reviews_table(demo_db, tmp_path):
    import shutil

    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    con = sqlite3.connect(db)
    flag_id, subject = con.execute("select id, subject_id from flags where status = 'open' limit 1").fetchone()
    con.execute("insert into reviews (subject_id, flag_id, verdict, note, reviewer, created_at) values "
                "(?, ?, 'confirmed', 'checked the card', 'analyst', '2026-12-01T00:00:00+00:00')", [subject, flag_id])
    con.execute("update flags set claim = 'an older claim' where id = ?", [flag_id])  # the claim changed since
    con.commit()
    result = run_openness("assess", "--force", "--db", str(db))  # judged again (its inputs are unchanged)
    assert result.returncode == 0, result.stderr  # the review's flag is kept, not deleted under it
    rows = dict(con.execute("select id, status from flags where subject_id = ?", [subject]).fetchall())
    assert rows[flag_id] == "superseded" and "open" in rows.values()
    listed = json.loads(run_openness("flags", "--db", str(db), "--json").stdout)
    assert all(r["id"] != flag_id for r in listed)


def test_the_sentence_splitter_forgets_what_it_read_and_splits_the_same_after_renewal(monkeypatch):
    # spaCy's vocabulary keeps every token string it read: over the whole Hub's cards it would grow without bound.
    monkeypatch.setattr(claims, "SENTENCIZER_TEXTS", 50)
    splitter = claims._Sentencizer()
    paragraph = "This model is fully open source. Weights are released under Apache 2.0! Data is not."
    first = [s.text for s in splitter(paragraph)]
    sizes = []
    for number in range(200):  # texts of words never seen before, as the Hub's cards hold model names and hashes
        list(splitter(" ".join(f"word{number}x{k}" for k in range(20)) + "."))
        sizes.append(len(splitter.nlp.vocab.strings))
    assert max(sizes) < 2 * sizes[10] and sizes[-1] < sizes[48]  # bounded, and renewed
    assert [s.text for s in splitter(paragraph)] == first == [
        "This model is fully open source.", "Weights are released under Apache 2.0!", "Data is not."]


def test_the_queue_lists_the_least_sure_judgements_of_flagged_and_most_downloaded_models(demo_copy):
    """Unreviewed decided judgements below the confident mark, of flagged models and of the most downloaded ones,
    least sure first after the flags; confident, unknown and reviewed judgements stay out."""
    from crawler.review.metadata import REVIEW_QUEUE
    from crawler.store import CONFIDENT, open_db

    db = open_db(demo_copy)
    rows = list(db.query(REVIEW_QUEUE))
    unsure = [r for r in rows if r["item"] == "unsure judgement"]
    flagged = {r["model"] for r in rows if r["item"] == "flag"}
    assert unsure and {r["model"] for r in unsure} <= flagged  # the replica's JSON holds no downloads
    assert all(r["level_now"] != "unknown" and r["confidence"] < CONFIDENT for r in unsure)
    assert [r["confidence"] for r in unsure] == sorted(r["confidence"] for r in unsure)
    assert rows.index(unsure[0]) > max(i for i, r in enumerate(rows) if r["item"] == "flag")
    # A model nobody flagged enters the queue once its Hub JSON says it is among the most downloaded.
    subject = next(db.query("select s.id, s.repo_id, a.content_sha256 from subjects s join artifacts a on "
                            "a.repo_id = s.repo_id and a.kind = 'model_json' and a.revision = s.revision where "
                            "s.kind = 'model' and s.id not in (select subject_id from flags) and exists (select 1 "
                            "from judgements j where j.subject_id = s.id and j.level != 'unknown') limit 1"))
    db.execute("update blobs set content = cast(json_set(cast(content as text), '$.downloads', 10) as blob) "
               "where sha256 = ?", [subject["content_sha256"]])
    db.conn.commit()
    assert subject["repo_id"] in {r["model"] for r in db.query(REVIEW_QUEUE) if r["item"] == "unsure judgement"}
