"""Hostile cards (issue 30): what a card's owner writes never stops, slows or fools the judge.

- Front matter that cannot be built (a date that does not exist, an integer of thousands of digits, a tag that does
  not build) is read as text or refused as a recorded parse error, never a traceback; a model the judge still fails
  on is recorded against it (the exception, the document), its judgements `unknown` naming it, and every other
  model is judged, in one process or several (`--workers 2`); the next run does not stop on it.
- Judging one card costs little whatever it holds: 100,000 links, 50,000 headings, a 5 MB line, thousands of
  tables or bibtex entries, deep nesting; each document is judged up to a bound, which the judgement says it hit;
  every rule's regular expression is linear on long lines.
- A claim of openness spelt with look-alike letters, invisible characters or a right-to-left override is read as
  shown, quoted as written, and marked as read so.
- The replica's corpus reads its YAML without the judge's modules.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import fields, is_dataclass, replace
from pathlib import Path

import pytest

from conftest import ROOT, run_openness
from crawler.assess import Failed, Judged, judge
from crawler.corpus import Corpus
from extractors import CRITERIA, MAX_EVIDENCE, assess_model
from extractors.claims import text_claims
from extractors.flags import openwashing_flag
from crawler.terminal import clean
from extractors.text import MAX_JUDGED_CHARS, MAX_JUDGED_LINES, front_matter, quote
from extractors.types import Artifact, ModelArtifacts
from hostile_server import HostileServer
from test_nightly import redis_url  # noqa: F401 (a fixture: a real redis-server)
from test_reliability import plant

# ---------------------------------------------------------------------------------------------------------------
# Front matter that cannot be built: read as text, or a recorded parse error; never an exception.

LICENCE = "license: apache-2.0\n"
YAML_CASES = [
    # (id, front matter, key, the value read; or None and the error expected)
    ("date-that-does-not-exist", "release_date: 2024-02-30\n", "release_date", "2024-02-30", None),
    ("date-kept-as-written", "release_date: 2024-02-01\n", "release_date", "2024-02-01", None),
    ("timestamp-kept-as-written", "trained: 2001-12-14t21:59:43.10-05:00\n", "trained",
     "2001-12-14t21:59:43.10-05:00", None),
    ("int-5000-digits", "params: " + "9" * 5000 + "\n", "params", "9" * 5000, None),
    ("binary-int-20000-digits", "params: 0b" + "1" * 20000 + "\n", "params", "0b" + "1" * 20000, None),
    ("sexagesimal-int-long", "t: " + ":".join(["59"] * 60) + "\n", "t", ":".join(["59"] * 60), None),
    ("small-int-still-a-number", "params: 7000000000\n", "params", 7_000_000_000, None),
    ("timestamp-tag-on-junk", "d: !!timestamp not-a-date\n", "d", "not-a-date", None),
    ("float-tag-on-junk", "f: !!float abc\n", "f", "abc", None),
    ("float-tag-empty", "f: !!float\n", "f", "", None),
    ("bool-tag-on-junk", "b: !!bool maybe\n", "b", "maybe", None),
    ("int-tag-on-bare-hex-prefix", "n: !!int 0x\n", "n", "0x", None),
    ("lone-surrogate", "name: \udc80\n", None, None,
     "front matter refused: unreadable (UnicodeEncodeError: 'utf-8' codec can't encode character '\\udc80'"),
    ("recursive-alias", "a: &x [*x]\n", None, None, "front matter refused: nested more than 64 levels deep"),
    ("python-tag", "a: !!python/object/apply:os.system [ls]\n", None, None,
     "front matter is not valid YAML: could not determine a constructor for the tag"),
]


@pytest.mark.parametrize("case, yaml_text, key, value, error", YAML_CASES, ids=[c[0] for c in YAML_CASES])
def test_front_matter_that_cannot_be_built_is_read_as_text_or_refused(case, yaml_text, key, value, error):
    meta, span, found_error = front_matter(f"---\n{LICENCE}{yaml_text}---\n# Model\n")
    if error is None:
        assert found_error is None and meta["license"] == "apache-2.0"
        assert meta[key] == value and type(meta[key]) is type(value)
    else:
        assert meta is None and found_error.startswith(error), found_error
    assert span == 3 + yaml_text.count("\n")


# ---------------------------------------------------------------------------------------------------------------
# Through a crawl: the Hub's answers come from the replica's corpus, the judge runs as users run it.

DATE_AND_BIG_INT = (f"---\n{LICENCE}release_date: 2024-02-30\nparameters: {'9' * 5000}\n---\n# Poisoned model\n\n"
                    "A model card.\n").encode()
CLEAN = "mistralai/Mistral-7B-v0.1"


def crawl(server: HostileServer, db: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_openness("crawl", *args, "--db", str(db), "--hf-endpoint", server.url, "--github-endpoint",
                        server.url, "--depth", "0", env=env)


def levels(db: Path, model: str) -> dict[str, str]:
    return dict(sqlite3.connect(db).execute("select criterion, level from judgements where subject_id = ?",
                                            [f"hf:model:{model}"]))


def test_a_date_that_does_not_exist_and_a_huge_integer_stop_nothing(corpus_copy, tmp_path):
    """Issue 30's first case: the card was a traceback out of the YAML loader, the run left `assessing`, every later
    run stopped on the same model."""
    poisoned = plant(corpus_copy, "date-and-big-int", DATE_AND_BIG_INT)
    db = tmp_path / "store.db"
    with HostileServer(Corpus(corpus_copy)) as server:
        first = crawl(server, db, poisoned, CLEAN)
        again = run_openness("assess", "--force", "--db", str(db))
        second = crawl(server, db, poisoned, CLEAN)
        served = server.requests_to(r"/api/models/badinput/date-and-big-int")
    for result in (first, again, second):
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    con = sqlite3.connect(db)
    assert [r[0] for r in con.execute("select status from crawl_runs order by id")] == ["completed", "completed"]
    assert len(levels(db, CLEAN)) == len(levels(db, poisoned)) == 14
    assert levels(db, poisoned)["licenses"] == "open"
    assert not con.execute("select * from errors where subject_id = ? and kind in ('parse', 'judge')",
                           [f"hf:model:{poisoned}"]).fetchall()
    # The replica served the metadata as the Hub does, in JSON: the date and the number as their text.
    assert served
    model_json = con.execute("select b.content from artifacts a join blobs b on b.sha256 = a.content_sha256 "
                             "where a.repo_id = ? and a.kind = 'model_json'", [poisoned]).fetchone()[0]
    card_data = json.loads(model_json)["cardData"]
    assert card_data["release_date"] == "2024-02-30" and card_data["parameters"] == "9" * 5000


REFUSED = b"---\nlicense: apache-2.0\nbase: &b [*b]\n---\n# Model\n\nA card whose front matter is refused.\n"


def test_a_front_matter_that_is_refused_is_a_parse_error_of_the_card_and_the_rest_is_judged(corpus_copy, tmp_path):
    refused = plant(corpus_copy, "recursive-alias", REFUSED)
    db = tmp_path / "store.db"
    with HostileServer(Corpus(corpus_copy)) as server:
        result = crawl(server, db, refused, CLEAN)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "1 parse" in result.stdout.replace("\n", " "), result.stdout
    rows = sqlite3.connect(db).execute("select url, reason from errors where subject_id = ? and kind = 'parse'",
                                       [f"hf:model:{refused}"]).fetchall()
    assert len(rows) == 1 and rows[0][0].endswith(f"/{refused}/resolve/{rows[0][0].split('/resolve/')[1]}")
    assert rows[0][0].endswith("/README.md") and rows[0][1] == "front matter refused: nested more than 64 levels deep"
    assert levels(db, refused)["licenses"] == "unknown" and len(levels(db, CLEAN)) == 14


# A judge that fails on one model: a fault of ours on some input, which no card can be shown to cause once it is
# fixed. Every Python process of the crawl (the judging processes of `--workers 2` too) imports this file first
# (`sitecustomize`), which makes the judge raise on a card holding the marker, as the YAML loader raised on
# `2024-02-30` before this issue: while judging (the model card judge, in the judging processes), or while loading
# (the card reader that records unreadable documents, in the process that reads the store).
FAULT = '''
import sys
sys.path.insert(0, {root!r})
import extractors
import extractors.text
MARKER = "JUDGE-FAILS-HERE"
_judge, _read = extractors.JUDGES["modelcard"], extractors.text.front_matter


def judge_model_card(model):
    card = model.card
    if card is not None and MARKER in card.text:
        raise ValueError("day is out of range for month")
    return _judge(model)


def front_matter(card_text):
    if MARKER in card_text:
        raise ValueError("day is out of range for month")
    return _read(card_text)


if {stage!r} == "judging":
    extractors.JUDGES["modelcard"] = judge_model_card
else:  # bound by extractors.facts, which the judge imports after this
    extractors.text.front_matter = front_matter
'''
FAILING = b"---\nlicense: apache-2.0\n---\n# Model\n\nJUDGE-FAILS-HERE\n"


@pytest.mark.parametrize("stage, workers", [("judging", "1"), ("judging", "2"), ("loading", "2")],
                         ids=["judge-fails-one-process", "judge-fails-workers-2", "load-fails-workers-2"])
def test_a_model_the_judge_fails_on_is_recorded_and_never_blocks_another(stage, workers, corpus_copy, tmp_path):
    (tmp_path / "fault").mkdir()
    (tmp_path / "fault" / "sitecustomize.py").write_text(FAULT.format(root=str(ROOT), stage=stage))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "fault"), os.environ.get("PYTHONPATH", "")])}
    failing = plant(corpus_copy, "judge-fails", FAILING)
    db = tmp_path / "store.db"
    with HostileServer(Corpus(corpus_copy)) as server:
        first = crawl(server, db, failing, CLEAN, "--workers", workers, env=env)
        second = crawl(server, db, failing, CLEAN, "--workers", workers, env=env)
        again = run_openness("assess", "--force", "--workers", workers, "--db", str(db), env=env)
    for result in (first, second, again):
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert first.returncode == 1, first.stdout + first.stderr[-3000:]
    assert "failures: 1 judge exception" in first.stdout.replace("\n", " "), first.stdout
    con = sqlite3.connect(db)
    assert [r[0] for r in con.execute("select status from crawl_runs order by id")] == ["completed", "completed"]
    errors = con.execute("select run_id, url, reason from errors where kind = 'judge' order by id").fetchall()
    card_url = con.execute("select url from artifacts where repo_id = ? and kind = 'card'", [failing]).fetchone()[0]
    reason = f"the judge failed {stage} the model, on README.md: ValueError: day is out of range for month"
    assert errors[0] == (1, card_url, reason)
    judged = con.execute("select level, summary, rule_ids from judgements where subject_id = ?",
                         [f"hf:model:{failing}"]).fetchall()
    assert len(judged) == 14 and set(judged) == {("unknown", f"not judged: {reason}", "judge.failed")}
    evidence = con.execute("select distinct url, file, snippet from evidence where subject_id = ?",
                           [f"hf:model:{failing}"]).fetchall()
    assert evidence == [(card_url, "README.md", "ValueError: day is out of range for month")]
    assert not con.execute("select * from flags where subject_id = ?", [f"hf:model:{failing}"]).fetchall()
    clean = con.execute("select level, rule_ids from judgements where subject_id = ?", [f"hf:model:{CLEAN}"]).fetchall()
    assert len(clean) == 14 and all("judge.failed" not in rules for _, rules in clean)
    assert {level for level, _ in clean} != {"unknown"}
    # The second run does not stop on it: an unchanged model that failed judging is judged again only when its
    # inputs or the judge change (one that failed loading, again), each failure recorded against its run. `assess
    # --force` judges it again, records the failure once more and exits 1 naming it.
    assert second.returncode == (0 if stage == "judging" else 1), second.stdout + second.stderr[-3000:]
    assert [row[0] for row in errors] == ([1, None] if stage == "judging" else [1, 2, None])
    assert again.returncode == 1 and f"the judge failed on 1 model, their judgements left unknown: hf:model:{failing}" \
        in " ".join(again.stderr.split()), again.stderr[-3000:]


def test_a_distributed_run_whose_judge_fails_on_a_model_ends_as_a_local_one(redis_url, corpus_copy, tmp_path):
    """The ingester judges after the crawlers are done: what assessing records counts in how its run ends."""
    (tmp_path / "fault").mkdir()
    (tmp_path / "fault" / "sitecustomize.py").write_text(FAULT.format(root=str(ROOT), stage="judging"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "fault"), os.environ.get("PYTHONPATH", "")])}
    failing = plant(corpus_copy, "judge-fails", FAILING)
    db = tmp_path / "store.db"
    with HostileServer(Corpus(corpus_copy)) as server:
        ingester = subprocess.Popen([sys.executable, "-m", "crawler", "ingest", "--redis", redis_url, "--db", str(db),
                                     "--wait", "120"], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        crawler = run_openness("crawl", "--distributed", redis_url, failing, CLEAN, "--depth", "0", "--hf-endpoint",
                               server.url, "--github-endpoint", server.url, env=env)
        out, err = ingester.communicate(timeout=300)
    assert crawler.returncode == 0, crawler.stderr[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert ingester.returncode == 1 and out.rstrip().endswith("(exit 1)"), out[-2000:]
    con = sqlite3.connect(db)
    assert con.execute("select status, exit_code from crawl_runs").fetchall() == [("completed", 1)]
    assert con.execute("select count(*) from errors where kind = 'judge'").fetchone()[0] == 1
    assert len(levels(db, CLEAN)) == 14 and set(levels(db, failing).values()) == {"unknown"}


SURROGATES = b"# Model\n\nFine-tuned with DPO.\n"


def with_lone_surrogates(request, real):
    """The model JSON with lone surrogates escaped in a tag and the card metadata (`\\ud800`), as JSON allows."""
    answer = real()
    payload = json.loads(answer.body)
    payload["tags"] = [*payload.get("tags", []), "llama-\ud800"]
    payload["cardData"] = {"license": "x\ud800", "license_name": "y\udc00"}
    answer.body = json.dumps(payload).encode()  # ensure_ascii: the surrogates stay escapes on the wire
    return answer


def test_lone_surrogates_escaped_in_an_answer_are_judged_and_stored_as_their_escapes(corpus_copy, tmp_path):
    """A string no UTF-8 can encode (the store cannot hold it) came out of the model JSON into a judgement's text,
    and the write stopped the whole assessment."""
    model = plant(corpus_copy, "surrogates", SURROGATES)
    db = tmp_path / "store.db"
    with HostileServer(Corpus(corpus_copy)) as server:
        server.override(r"/api/models/badinput/surrogates(\?|$)", with_lone_surrogates)
        result = crawl(server, db, model, CLEAN)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    con = sqlite3.connect(db)
    judged = dict(con.execute("select criterion, summary from judgements where subject_id = ?", [f"hf:model:{model}"]))
    assert len(judged) == 14 and judged["licenses"] == "weights not under an open licence (weights: closed, code: none)"
    snippets = [r[0] for r in con.execute("select snippet from evidence where subject_id = ? and criterion = "
                                          "'licenses'", [f"hf:model:{model}"])]
    assert "\"license\": 'x\\\\ud800'" in snippets, snippets
    assert "its tag `llama-\\ud800` names" in judged["weights_basemodel"]
    assert not con.execute("select * from errors where kind = 'judge'").fetchall()


def test_a_judgement_the_store_cannot_hold_fails_its_model_alone(corpus_copy, tmp_path, monkeypatch):
    """Writing is part of judging: a judgement that cannot be written is the model's failure, its writes undone."""
    import crawler.assess
    from crawler.store import open_db

    db_path = tmp_path / "store.db"
    with HostileServer(Corpus(corpus_copy)) as server:
        assert crawl(server, db_path, CLEAN, "meta-llama/Meta-Llama-3-8B").returncode == 0
    judge_all = crawler.assess.assess_model

    def unwritable(model):
        judged = judge_all(model)
        if model.repo_id != CLEAN:
            return judged
        return [type(j)(j.criterion, j.level, j.confidence, "\ud800", j.evidence) for j in judged]

    monkeypatch.setattr(crawler.assess, "assess_model", unwritable)
    db, failed = open_db(db_path), []
    assert crawler.assess.assess(db, force=True, on_failure=failed.append) == 2
    assert failed == [f"hf:model:{CLEAN}"]
    reason, = db.execute("select reason from errors where kind = 'judge'").fetchone()
    assert reason.startswith("the judge failed saving the model, on http://127.0.0.1:")
    assert reason.endswith("UnicodeEncodeError: 'utf-8' codec can't encode character '\\ud800' in position 0: "
                           "surrogates not allowed")
    levels = dict(db.execute("select subject_id, group_concat(distinct level) from judgements group by 1").fetchall())
    assert levels[f"hf:model:{CLEAN}"] == "unknown" and levels["hf:model:meta-llama/Meta-Llama-3-8B"] != "unknown"


SHAPES = [
    # (id, model JSON fields, the GitHub tree of the model's own repo)
    ("model-json-tags-int", {"tags": 5}, {"sha": "h", "tree": []}),
    ("model-json-tags-float", {"tags": 1.5}, {"sha": "h", "tree": []}),
    ("model-json-card-data-list", {"cardData": [1, 2]}, {"sha": "h", "tree": []}),
    ("model-json-siblings-junk", {"siblings": [{"rfilename": 5}, None, "x"]}, {"sha": "h", "tree": []}),
    ("gh-tree-not-a-list", {}, {"sha": "h", "tree": 5}),
    ("gh-tree-path-a-list", {}, {"sha": "h", "tree": [5, None, {"path": ["a"], "type": "blob"}]}),
]


@pytest.mark.parametrize("case, fields_, code_tree", SHAPES, ids=[c[0] for c in SHAPES])
def test_a_stored_answer_of_any_shape_is_judged_never_a_failure(case, fields_, code_tree):
    model = card_model(HEAD + "# Model\n\nCode: https://github.com/acme/model\n", readme=True)
    model_json = Artifact("j", "model_json", "http://hub/api/models/acme/model", "abc", None,
                          json.dumps({"id": "acme/model", "sha": "abc", **fields_}))
    tree = Artifact("t", "tree", "https://api.github.com/repos/acme/model/git/trees/h", "h", None,
                    json.dumps(code_tree), "acme/model")
    judged = judge((replace(model, model_json=model_json, code_trees=(tree,)), None))
    assert isinstance(judged, Judged) and [j.criterion for j in judged.judgements] == list(CRITERIA)


# ---------------------------------------------------------------------------------------------------------------
# The cost of judging one card.

HEAD = "---\nlicense: apache-2.0\n---\n"
PER_CARD_SECONDS = 30  # generous: the worst case below takes about 10 s on the 2-core machine, others a second

COST_CASES = [
    # (id, card text, whether it exceeds the bounds judged)
    ("links-100k-3mb", HEAD + "".join(f"- [link {i}](https://example.com/p/{i})\n" for i in range(100_000)), True),
    ("links-100k-one-paragraph", HEAD + "".join(f"[l{i}](https://example.com/p/{i}) " for i in range(100_000)), True),
    ("bare-urls-100k", HEAD + " ".join(f"https://example.com/{i}" for i in range(100_000)), True),
    ("dataset-links-100k-one-line", HEAD + "Trained on " + " ".join(
        f"https://huggingface.co/datasets/o/d{i}" for i in range(100_000)), True),
    ("headings-50k", HEAD + "".join(f"{'#' * (1 + i % 6)} Heading {i}\n" for i in range(50_000)), True),
    ("headings-50k-sections", HEAD + "".join(f"## Training {i}\n\nWe trained it.\n\n" for i in range(50_000)), True),
    ("line-5mb", HEAD + "x" * 5_000_000, True),
    ("line-5mb-of-numbers", HEAD + "1." * 2_500_000, True),
    ("line-5mb-of-words", HEAD + "open " * 1_000_000, True),
    ("brackets-1m", HEAD + "[" * 1_000_000, True),
    ("lines-2m", HEAD + "x\n" * 2_000_000, True),
    ("tables-4000", HEAD + "".join(f"| a{i} | b |\n|---|---|\n| 1 | [x](https://github.com/o/r{i}) |\n\n"
                                   for i in range(4000)), False),
    ("table-100k-rows", HEAD + "| a | b |\n|---|---|\n" + "".join(f"| {i} | 8 x A100 |\n" for i in range(100_000)),
     True),
    ("base-models-5000", "---\nbase_model:\n" + "".join(f"- org{i}/model{i}\n" for i in range(5000)) +
     "---\n# Model\n", False),
    ("deep-lists-1000", HEAD + "".join("  " * i + "- x\n" for i in range(1000)), True),
    ("deep-quotes-100k", HEAD + "> " * 100_000 + "x\n", False),
    ("deep-html-20k", HEAD + "<div>" * 20_000 + "x" + "</div>" * 20_000 + "\n", False),
    ("bibtex-20k-entries", HEAD + "## Citation\n\n```bibtex\n" + "".join(
        f"@article{{a{i},\n journal={{arXiv preprint arXiv:2401.{i:05d}}}\n}}\n" for i in range(20_000)) + "```\n",
     True),
    ("claims-in-every-sentence", HEAD + "".join("Our model is open source and open weights. " * 5 + "\n\n"
                                                for _ in range(20_000)), True),
    ("lookalikes-2mb", HEAD + "Our model is \u043epen s\u200bource. " * 60_000, True),
]


def card_model(text: str, readme: bool = False) -> ModelArtifacts:
    """A model whose card (or whose own GitHub repo's README, with a card pointing to it) is `text`."""
    model_json = Artifact("j", "model_json", "http://hub/api/models/acme/model", "abc", None,
                          json.dumps({"id": "acme/model", "sha": "abc"}))
    if not readme:
        card = Artifact("c", "card", "http://hub/acme/model/resolve/abc/README.md", "abc", "README.md", text)
        return ModelArtifacts("acme/model", "abc", "http://hub/acme/model", model_json, card)
    card = Artifact("c", "card", "http://hub/acme/model/resolve/abc/README.md", "abc", "README.md",
                    HEAD + "# Model\n\nCode: https://github.com/acme/model\n")
    readme_file = Artifact("r", "readme", "https://github.com/acme/model/blob/h/README.md", "h", "README.md", text,
                           "acme/model")
    tree = Artifact("t", "tree", "https://api.github.com/repos/acme/model/git/trees/h", "h", None, json.dumps(
        {"sha": "h", "tree": [{"path": "train.py", "type": "blob"}, {"path": "README.md", "type": "blob"}]}),
        "acme/model")
    return ModelArtifacts("acme/model", "abc", "http://hub/acme/model", model_json, card, code_files=(readme_file,),
                          code_trees=(tree,))


def timed_judge(model: ModelArtifacts, case: str) -> Judged:
    started = time.monotonic()
    judged = judge((model, None))
    elapsed = time.monotonic() - started
    print(f"{case}: judged in {elapsed:.2f} s")
    assert not isinstance(judged, Failed), judged
    assert elapsed < PER_CARD_SECONDS, f"{case} took {elapsed:.0f} s to judge"
    return judged


@pytest.mark.parametrize("case, text, cut", COST_CASES, ids=[c[0] for c in COST_CASES])
def test_a_hostile_card_is_judged_in_bounded_time_and_says_where_it_was_cut(case, text, cut):
    judged = timed_judge(card_model(text), case)
    card = {j.criterion: j for j in judged.judgements}["modelcard"]
    notes = [e for e in card.evidence if e.rule_id == "text.bounded"]
    if not cut:
        assert not notes
        return
    kept = min(len(text), MAX_JUDGED_CHARS)
    assert len(notes) == 1 and notes[0].url.endswith("/README.md") and notes[0].artifact_id == "c"
    assert f"of {len(text):,} characters" in card.summary and f"of {len(text):,} characters" in notes[0].snippet
    assert f"up to {MAX_JUDGED_LINES:,} lines and {MAX_JUDGED_CHARS:,} characters" in notes[0].snippet
    judged_chars = int(re.search(r"judged on its first ([\d,]+) of", notes[0].snippet).group(1).replace(",", ""))
    assert judged_chars <= kept and text[:judged_chars].count("\n") <= MAX_JUDGED_LINES


@pytest.mark.parametrize("case, citing", [("links-100k-3mb", set()), ("headings-50k-sections", {"code"}),
                                          ("line-5mb-of-numbers", set())])
def test_a_hostile_readme_of_the_models_own_repo_is_judged_in_bounded_time(case, citing):
    text = dict((c, t) for c, t, _ in COST_CASES)[case]
    judged = timed_judge(card_model(text, readme=True), f"readme-{case}")
    cited = [j for j in judged.judgements if any(e.artifact_id == "r" for e in j.evidence)]
    assert {j.criterion for j in cited} == citing
    assert all(any(e.rule_id == "text.bounded" and e.artifact_id == "r" for e in j.evidence) for j in cited)


def test_a_judgement_keeps_at_most_its_bound_of_evidence_and_counts_the_rest():
    links = "".join(f"- [data {i}](https://huggingface.co/datasets/acme/d{i})\n" for i in range(200))
    judged = timed_judge(card_model(HEAD + "# Model\n\n## Training data\n\n" + links), "datasets-200")
    data = {j.criterion: j for j in judged.judgements}["datasources_endmodel"]
    assert data.level == "open" and "all 200 named datasets are public" in data.summary
    assert len(data.evidence) == MAX_EVIDENCE and data.evidence[-1].rule_id == "evidence.more"
    assert data.evidence[-1].snippet.startswith(f"and {200 - MAX_EVIDENCE + 1} more pieces of evidence")


def rule_patterns() -> dict[str, list[re.Pattern]]:
    """Every regular expression the judge reads text with, by where it comes from: each rule file's (as loaded and
    validated), and the extractors' own."""
    import importlib
    import pkgutil

    import extractors
    from extractors import rules
    from extractors.cards import _family_prefix
    from extractors.claims import claim_rules

    def collect(value, found: list, seen: set) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, re.Pattern):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item, found, seen)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for item in value:
                collect(item, found, seen)
        elif is_dataclass(value) and not isinstance(value, type):
            for f in fields(value):
                collect(getattr(value, f.name), found, seen)

    loaded = {"card_content.yaml": rules.card_content_rules(), "card_sections.yaml": rules.card_section_rules(),
              "venues.yaml": rules.venue_rules(), "weight_files.yaml": rules.weight_rules(),
              "packages.yaml": rules.package_rules(), "licence_phrases.yaml": rules.licence_phrases(),
              "families.yaml": (rules.family_rules(), _family_prefix()), "openness_claims.yaml": claim_rules()}
    by_source = {}
    for name, value in loaded.items():
        found: list = []
        collect(value, found, set())
        by_source[name] = found
    own: list = []
    for module in pkgutil.iter_modules(extractors.__path__):
        collect(list(vars(importlib.import_module(f"extractors.{module.name}")).values()), own, set())
    by_source["extractors/*.py"] = own
    return by_source


# Long lines of what rules are made of: runs of one character class, words, numbers, brackets, addresses.
UNITS = ["x", " ", "1", "1.", "1,", ".", "-", "/", "a ", "a-", "a.", "a_", "a:", "@", "x@", "(", "[", "[report ",
         "open ", "open source ", "open-", "trained on ", "8 x ", "gpu ", "a100 ", "\t", "'", '"', "*", "|", "#",
         "=", ",", ": ", "http://", "https://x/", "huggingface.co/", "arxiv ", "v1.", "0x", "\\", "`", "~", "<a "]
REDOS_LINE = 20_000
REDOS_SECONDS = 0.5  # a linear search of 20,000 characters takes milliseconds; a quadratic one, seconds


@pytest.mark.parametrize("source", ["card_content.yaml", "card_sections.yaml", "venues.yaml", "weight_files.yaml",
                                    "packages.yaml", "licence_phrases.yaml", "families.yaml", "openness_claims.yaml",
                                    "extractors/*.py"])
def test_every_regular_expression_of_the_judge_is_linear_on_long_lines(source):
    patterns = rule_patterns()[source]
    assert patterns, f"no pattern found in {source}"
    slow = []
    for pattern in patterns:
        for unit in UNITS:
            line = unit * (REDOS_LINE // len(unit)) + "!"
            started = time.perf_counter()
            pattern.search(line)
            elapsed = time.perf_counter() - started
            if elapsed > REDOS_SECONDS:
                slow.append(f"{elapsed:.1f} s on {unit!r} * {REDOS_LINE // len(unit)}: {pattern.pattern[:120]}")
    assert not slow, "\n".join(slow)


# ---------------------------------------------------------------------------------------------------------------
# Claims spelt to be missed: read as shown, quoted as written, marked.

CLAIMED = "Our model is open source."
LOOKALIKE_CASES = [
    # (id, the sentence as written, what the mark must say)
    ("cyrillic-o", "Our model is \u043epen source.", "о (U+043E cyrillic small letter o) read as o"),
    ("cyrillic-letters", "Our model is \u043e\u0440\u0435n \u0455\u043eur\u0441\u0435.",
     "р (U+0440 cyrillic small letter er) read as p"),
    ("greek-omicron", "Our model is \u03bfpen source.", "ο (U+03BF greek small letter omicron) read as o"),
    ("zero-width-space", "Our model is op\u200ben sou\u200brce.", "invisible U+200B (zero width space) removed"),
    ("soft-hyphen", "Our model is open sou\u00adrce.", "invisible U+00AD (soft hyphen) removed"),
    ("word-joiner", "Our model is open\u2060 source.", "invisible U+2060 (word joiner) removed"),
    ("fullwidth-letters", "Our model is \uff4f\uff50\uff45\uff4e source.",
     "ｏ (U+FF4F fullwidth latin small letter o) read as o"),
    ("mathematical-letters", "Our model is \U0001d428\U0001d429\U0001d41e\U0001d427 source.",
     "𝐨 (U+1D428 mathematical bold small o) read as o"),
    ("right-to-left-override", "\u202e.ecruos nepo si ledom ruO\u202c",
     "text under a right-to-left override read in the order it is shown"),
    ("override-and-lookalike", "\u202e.ecruos n\u0435po si ledom ruO\u202c",
     "е (U+0435 cyrillic small letter ie) read as e"),
]


BIDI_CONTROLS = {chr(c) for c in (*range(0x202a, 0x202f), *range(0x2066, 0x206a))}


@pytest.mark.parametrize("control", sorted(BIDI_CONTROLS), ids=lambda c: f"U+{ord(c):04X}")
def test_quotes_and_terminal_text_drop_bidi_controls_that_would_reorder_what_follows(control):
    """An embedding, override or isolate left in a quote flips how a terminal or a page shows the text after it
    (and the rest of the line: `Trojan Source`): evidence quotes and text shown in the terminal drop them."""
    text = f"Licence: {control}TIM{chr(0x202c)} see LICENSE"
    assert quote(text) == "Licence: TIM see LICENSE"
    assert clean(text) == "Licence: TIM see LICENSE"


def claims_of(sentence: str) -> list:
    return text_claims(card_model(f"{HEAD}# Model\n\nSome words first.\n{sentence}\n"))


@pytest.mark.parametrize("case, sentence, mark", LOOKALIKE_CASES, ids=[c[0] for c in LOOKALIKE_CASES])
def test_an_open_source_claim_spelt_to_be_missed_is_read_as_shown_and_quoted_as_written(case, sentence, mark):
    assert CLAIMED not in sentence  # as written, the words are not there
    found = claims_of(sentence)
    assert [(c.rule_id, c.kind, c.line) for c in found] == [("claim.open-source", "open source", 7)]
    quoted = found[0].quote
    written = sentence.replace("\u202c", "").replace("\u202e", "")  # quotes drop no letter; bidi aside
    assert quoted.startswith(written.strip()), quoted
    assert not set(quoted) & BIDI_CONTROLS, quoted
    assert f"[read as: {CLAIMED}" in quoted and mark in quoted, quoted
    assert found[0].location.endswith("/README.md#L7")


def test_a_claim_read_through_look_alikes_raises_the_openwashing_flag_quoting_it():
    model = card_model(f"{HEAD}# Model\n\nOur model is \u043epen source.\n")
    flag = openwashing_flag(model, assess_model(model))
    assert flag is not None and flag.kind == "open source" and flag.claim.rule_id == "claim.open-source"
    assert flag.claim.quote.startswith("Our model is \u043epen source. [read as: Our model is open source.")
    assert {c for c, _ in flag.failing} == {"trainingcode", "datasources_endmodel"}


@pytest.mark.parametrize("sentence", ["Our model is open source.", "Модель с открытым исходным кодом.",
                                      "Наша модель — открытая."], ids=["plain-ascii-claim", "russian-words",
                                                                       "russian-no-claim"])
def test_plain_text_is_quoted_unmarked_and_other_scripts_are_not_folded_into_claims(sentence):
    found = claims_of(sentence)
    if sentence.isascii():
        assert [c.quote for c in found] == [sentence]
    else:
        assert found == []


# ---------------------------------------------------------------------------------------------------------------
# The house: the replica's corpus reads its own YAML.

def test_the_replica_corpus_reads_its_yaml_without_the_judges_modules(tmp_path):
    probe = ("import sys, crawler.corpus, crawler.replica.server; "
             "print(sorted(m for m in sys.modules if m == 'extractors' or m.startswith('extractors.')))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


@pytest.mark.parametrize("card, expected", [
    (b"---\nrelease_date: 2024-02-30\nn: " + b"9" * 5000 + b"\n---\n# M\n", {"release_date": "2024-02-30",
                                                                          "n": "9" * 5000}),
    (b"---\na: &x 1\nb: *x\n---\n# M\n", "front matter is not valid YAML: an alias (*x) on line 2: aliases are not "
                                         "followed"),
    (b"---\na: " + b"[" * 100 + b"]" * 100 + b"\n---\n# M\n", "front matter is not valid YAML: nested more than 64 "
                                                              "levels deep"),
], ids=["corpus-date-and-big-int", "corpus-alias", "corpus-deep"])
def test_the_replica_corpus_serves_card_metadata_as_json_can_hold_it(card, expected, tmp_path):
    corpus_dir = tmp_path / "corpus"
    (corpus_dir / "github").mkdir(parents=True)
    model = plant(corpus_dir, "card", card)
    from crawler.corpus import CorpusError
    repo = Corpus(corpus_dir).models[model]
    if isinstance(expected, dict):
        assert repo.front_matter == expected
        json.dumps(repo.front_matter)
    else:
        with pytest.raises(CorpusError) as raised:
            repo.front_matter
        assert str(raised.value) == f"huggingface/models/{model}/README.md: {expected}"


def test_every_criterion_is_judged_for_a_poisoned_card_in_process():
    judged = judge((card_model(DATE_AND_BIG_INT.decode()), None))
    assert isinstance(judged, Judged) and [j.criterion for j in judged.judgements] == list(CRITERIA)
    assert {j.criterion: j.level for j in judged.judgements}["licenses"] == "open"
