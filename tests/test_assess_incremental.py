"""Assessment judges only what changed: a model whose inputs (artifacts, failures, links, the judge's rules and
code) are those of its last assessment keeps its judgements; `--force` judges again, to the same bytes."""

from __future__ import annotations

import shutil
import sqlite3

from conftest import run_openness
from crawler.store import Store, open_db

JUDGEMENTS = "select subject_id, criterion, level, confidence, rule_ids, summary, basis, searched, assessed_at " \
             "from judgements order by 1, 2"
EVIDENCE = "select subject_id, criterion, ordinal, artifact_id, url, revision, file, line_start, line_end, snippet, " \
           "rule_id, confidence, public_url from evidence order by subject_id, criterion, ordinal"


def rows(db, query):
    return sqlite3.connect(db).execute(query).fetchall()


def test_an_unchanged_store_is_not_judged_again_and_force_judges_it_to_the_same_bytes(demo_db, tmp_path):
    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    before = rows(db, JUDGEMENTS), rows(db, EVIDENCE)
    models = rows(db, "select count(*) from subjects where kind = 'model' and revision is not null")[0][0]
    kept = run_openness("assess", "--db", str(db))
    assert kept.returncode == 0 and f"assessed 0 models in {db} ({models} unchanged" in " ".join(kept.stdout.split())
    assert (rows(db, JUDGEMENTS), rows(db, EVIDENCE)) == before  # not even assessed_at moved
    forced = run_openness("assess", "--force", "--db", str(db))
    assert forced.returncode == 0 and f"assessed {models} models" in forced.stdout
    without_time = [r[:-1] for r in before[0]]
    assert [r[:-1] for r in rows(db, JUDGEMENTS)] == without_time and rows(db, EVIDENCE) == before[1]


def test_a_changed_card_is_judged_again_and_no_other_model(demo_db, tmp_path):
    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    subject_id, repo_id, revision, url = rows(db, "select s.id, s.repo_id, s.revision, a.url from subjects s join "
                                                  "artifacts a on a.repo_id = s.repo_id and a.revision = s.revision "
                                                  "and a.kind = 'card' where s.kind = 'model' order by s.id limit 1")[0]
    store = Store(open_db(db))
    run_id = store.start_run("test", "http://hub", "http://gh", [])
    store.save_artifact(run_id, source="huggingface", repo_type="model", repo_id=repo_id, kind="card", url=url,
                        revision=revision, http_status=200, etag=None, content_type="text/markdown",
                        body=b"---\nlicense: apache-2.0\n---\n# A card rewritten at the same revision\n", path="README.md")
    store.db.conn.commit()
    changed = run_openness("assess", "--db", str(db))
    assert changed.returncode == 0 and "assessed 1 models" in changed.stdout
    licence = rows(db, f"select snippet from evidence where subject_id = '{subject_id}' and criterion = 'licenses' "
                       "order by ordinal limit 1")[0][0]
    assert licence == "license: apache-2.0"


def _extractor_caches():
    """Every memo of the judge's modules (parsed documents, lines, rules): what a cold process starts without."""
    import importlib
    import pkgutil

    import extractors
    for info in pkgutil.iter_modules(extractors.__path__):
        module = importlib.import_module(f"extractors.{info.name}")
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", "") == module.__name__:
                yield value


def test_a_models_judgements_do_not_depend_on_what_the_process_judged_before(demo_db):
    """The judge memoises documents, their lines and the card's reading across models (one parse per text): a model
    judged after every other one, caches warm, gets the judgements it gets in a process that judged nothing yet."""
    from crawler.assess import load_model
    from extractors import assess_model
    db = open_db(demo_db)
    subjects = list(db.query("select * from subjects where kind = 'model' and revision is not null order by id"))
    caches = list(_extractor_caches())
    assert {c.__name__ for c in caches} >= {"lines_of", "document", "front_matter", "_read_card_text"}
    warm = {}
    for subject in subjects:
        warm[subject["id"]] = assess_model(load_model(db, subject))
    for subject in reversed(subjects):
        for cache in caches:
            cache.cache_clear()
        assert assess_model(load_model(db, subject)) == warm[subject["id"]], subject["repo_id"]


FLAGS = "select subject_id, claim, failing_criteria, severity, claim_location, kind, promised, rule_ids, status " \
        "from flags order by 1, 2"
HISTORY = "select subject_id, aspect, value, evidence from history order by 1, 2, 3"


def test_judging_in_worker_processes_writes_the_store_a_single_process_writes(demo_db, tmp_path):
    single, parallel = tmp_path / "single.db", tmp_path / "parallel.db"
    for db in (single, parallel):
        shutil.copy(demo_db, db)
        with sqlite3.connect(db) as con:  # what assessing writes, gone: each store is written afresh
            con.executescript("delete from evidence; delete from judgements; delete from flags; delete from history;")
    models = rows(single, "select count(*) from subjects where kind = 'model' and revision is not null")[0][0]
    for db, workers in ((single, "1"), (parallel, "2")):
        done = run_openness("assess", "--force", "--workers", workers, "--db", str(db))
        assert done.returncode == 0 and f"assessed {models} models" in done.stdout, done.stderr
    for query in (JUDGEMENTS, EVIDENCE, FLAGS, HISTORY):
        strip = (lambda r: r[:-1]) if query is JUDGEMENTS else (lambda r: r)
        assert [strip(r) for r in rows(parallel, query)] == [strip(r) for r in rows(single, query)]
    assert rows(parallel, FLAGS) and rows(parallel, HISTORY)
