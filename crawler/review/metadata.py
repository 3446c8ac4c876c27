"""The Datasette metadata of a review: titles, column help, facets, sorts, and the read-only canned queries the
analysts' pages (crawler/review/plugin) show and power users get as JSON. Everything the analyst reads from cards
and licences is shown by Datasette or the plugin's templates, which escape it."""

from __future__ import annotations

LABELS_ATTRIBUTION = ("Expert labels used to measure the crawler: European Open Source AI Index (https://osai-index.eu) "
                      "and opening-up-chatgpt (http://opening-up-chatgpt.github.io), CC-BY 4.0; Liesenfeld & "
                      "Dingemanse (2024), FAccT '24, doi:10.1145/3630106.3659005.")
SEVERITY_RANK = "case f.severity when 'high' then 0 when 'medium' then 1 else 2 end"
LOGGED_IN = {"id": "*"}  # any actor: datasette-auth-passwords signs one in after a password check
# What anyone may read when reading is anonymous: the analysts' tables and views. Every other table of the store
# (crawl_runs: commands with file paths, hosts, pids and endpoints; blobs; the migrations) and any table a later
# migration adds is for logged-in analysts only, and so is SQL of one's own (Datasette's `execute-sql`, also
# behind `?_where=`): anonymous readers get the tables below, the analysts' pages, the read-only canned queries
# and nothing else.
ANALYST_TABLES = ("subjects", "links", "artifacts", "judgements", "evidence", "flags", "reviews", "history",
                  "errors", "effective_judgements", "model_licences", "review_queue", "model_downloads",
                  "model_capture")

FLAGGED = f"""
select f.id as flag_id, f.severity, s.repo_id as model, f.kind, f.claim,
       f.claim_location, f.failing_criteria, f.status,
       (select verdict || ' by ' || reviewer || ': ' || note from reviews r where r.flag_id = f.id
        order by r.id desc limit 1) as last_verdict,
       'https://huggingface.co/' || s.repo_id as public_page
from flags f join subjects s on s.id = f.subject_id
where f.status != 'superseded' and (:severity = '' or f.severity = :severity)
order by {SEVERITY_RANK}, s.repo_id"""

CHANGES = """
select * from (
  select h.run_id, h.subject_id, h.aspect, lag(h.value) over w as old_value, h.value as new_value, h.summary,
         json_extract(h.evidence, '$.public_url') as evidence_url, h.recorded_at
  from history h window w as (partition by h.subject_id, h.aspect order by h.id))
where old_value is not null and run_id = (select max(run_id) from history where run_id is not null)
order by subject_id, aspect"""

# Changed reviewed judgements, then flags worst first, then the judgements the machine is least sure of (flagged and
# most downloaded models), least sure and most downloaded first.
REVIEW_QUEUE = """
select q.item, s.repo_id as model, q.criterion, q.severity, q.what, q.level_seen, q.level_now, q.confidence,
       q.flag_id, q.since
from review_queue q join subjects s on s.id = q.subject_id left join model_downloads d on d.subject_id = q.subject_id
order by case q.item when 'changed judgement' then 0 when 'flag' then 1 else 2 end,
         case q.severity when 'high' then 0 when 'medium' then 1 else 2 end, q.confidence, d.downloads desc,
         s.repo_id, q.criterion"""


def metadata(db_name: str, anonymous_read: bool, accounts: dict, tables: list[str] = (),
             throttle: dict | None = None) -> dict:
    """Datasette metadata for the store `db_name` (its file name without `.db`) holding `tables` (tables and views).
    `accounts`: user -> a Datasette secret reference (`{"$env": NAME}`), never the hash itself: Datasette serves
    this metadata at /-/metadata.json and resolves references only when the plugin asks for its config."""
    return {
        "title": "Openness evidence: review",
        "description": "How open AI models on Hugging Face and GitHub really are, judged per criterion with the "
                       "evidence, and the models that call themselves open while they are not. Log in to record "
                       "verdicts. " + LABELS_ATTRIBUTION,
        "license": "Judgements: the crawler's; evidence quoted from the public sources it links. Expert labels: "
                   "CC-BY 4.0",
        "license_url": "https://creativecommons.org/licenses/by/4.0/",
        "source": "openness evidence crawler",
        **({} if anonymous_read else {"allow": LOGGED_IN}),
        "allow_sql": LOGGED_IN,
        "plugins": {"datasette-auth-passwords": {f"{user}_password_hash": secret for user, secret in accounts.items()},
                    "openness-review": {"login_throttle": throttle or {}}},
        "databases": {db_name: {
            "tables": {**{table: {"allow": LOGGED_IN} for table in tables if table not in ANALYST_TABLES},
                "judgements": {
                    "title": "Judgements (the machine's; see effective_judgements for analysts' overrides)",
                    "facets": ["criterion", "level", "basis"], "sort": "subject_id",
                    "columns": {"level": "open / partial / closed / unknown",
                                "basis": "evidence (found) or absence (not found where it was looked for)",
                                "searched": "the sources the judgement read, each with its status",
                                "summary": "why, in one line"}},
                "evidence": {"facets": ["criterion", "rule_id"], "sort": "subject_id",
                             "columns": {"public_url": "the source at its revision on huggingface.co / github.com",
                                         "url": "the URL the crawl fetched (a replica or mirror)",
                                         "snippet": "quoted verbatim from the source"}},
                "flags": {"title": "Openwashing flags", "facets": ["severity", "kind", "status"],
                          "sort": "severity",
                          "columns": {"claim": "the model's own words, quoted",
                                      "failing_criteria": "promised criteria decided and not open"}},
                "reviews": {"title": "Analysts' verdicts (never written by a crawl)", "sort_desc": "created_at",
                            "columns": {"level_seen": "the machine's level when the analyst overrode it",
                                        "reviewer": "the logged-in analyst"}},
                "history": {"title": "Change history", "facets": ["aspect"], "sort_desc": "id"},
                "errors": {"facets": ["kind", "http_status"], "sort_desc": "id"},
                "crawl_runs": {"sort_desc": "id", "allow": LOGGED_IN},
                "effective_judgements": {"facets": ["criterion", "level"]},
                "model_licences": {"title": "Declared licences and their class", "facets": ["licence_class"]},
                "blobs": {"hidden": True, "allow": LOGGED_IN},
            },
            "queries": {
                "flagged_models": {"title": "Flagged models, worst first", "sql": FLAGGED, "hide_sql": True,
                                   "description": "Models whose own words claim openness while the criteria that "
                                                  "claim promises are decided and not open. Leave severity empty "
                                                  "for all."},
                "changes_since_previous_run": {"title": "What changed in the last run", "sql": CHANGES,
                                               "hide_sql": True},
                "review_queue": {"title": "Review queue", "sql": REVIEW_QUEUE, "hide_sql": True,
                                 "description": "Flags nobody reviewed, and reviewed judgements a later crawl "
                                                "changed (both levels shown)."},
            },
        }},
    }
