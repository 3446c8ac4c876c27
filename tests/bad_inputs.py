"""The bad-input corpus: hostile and broken inputs of real shapes, each with what it must yield (a recorded, typed
error naming its source, or a sane judgement; never a crash, never silence). tests/test_reliability.py runs them;
`python tests/bad_inputs.py > docs/reliability.md` writes the page listing them (a test keeps it current).

Cards and licence files are planted in a copy of the bundled snapshot under the owner `badinput`, each case a model
folder, and crawled through the replica like any model; answer shapes are fed to the spiders' own callbacks.
"""

from __future__ import annotations

import json

from crawler.middlewares import REDIRECT_HOSTS
from crawler import settings
from crawler.replica.limits import STATUS_FAULTS, TRANSPORT_FAULTS
from crawler.settings import REDIRECT_MAX_TIMES
from extractors import MAX_EVIDENCE
from extractors.text import MAX_JUDGED_CHARS, MAX_JUDGED_LINES, YAML_MAX_DEPTH, YAML_MAX_INT_CHARS, YAML_MAX_NODES
from spiders.base import MAX_BYTES, MAX_JSON_BYTES

VALID_HEAD = "---\nlicense: apache-2.0\n---\n"
DEEP = "---\nmeta: " + "[" * 5000 + "]" * 5000 + "\n---\n# Card\n"
BOMB = "---\n" + "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)) + "---\n# Card\n"
ANSI = "---\nlicense: mit\n---\n# \x1b[2J\x1b[31mModel\x1b[0m\n\nThis model is open source.\n"

# Each card case: (id, what it is, the card's bytes, what it yields: `parse` = a parse error naming the card's URL;
# `licence:<level>` = the licence judgement; `card:<levels>` = the model card judgement, one of the levels).
CARD_CASES = [
    ("empty-card", "an empty README.md", b"", "card:closed licence:closed"),
    ("bom-crlf", "front matter after a UTF-8 byte-order mark, CRLF line ends",
     b"\xef\xbb\xbf---\r\nlicense: apache-2.0\r\n---\r\n# Model\r\n", "licence:open"),
    ("crlf-only", "CRLF line ends everywhere", b"---\r\nlicense: mit\r\n---\r\n# M\r\n", "licence:open"),
    ("utf16", "a UTF-16 card with its BOM", ("---\nlicense: mit\n---\n# M\n").encode("utf-16"), "licence:open"),
    ("latin1", "Latin-1 bytes that are not UTF-8", "---\nlicense: mit\n---\n# Modèle été\n".encode("latin-1"),
     "licence:open"),
    ("random-bytes", "random bytes as README.md", bytes(range(256)) * 8, "parse card:closed"),
    ("png-as-card", "a PNG image saved as README.md", b"\x89PNG\r\n\x1a\n" + bytes(2000), "parse card:closed"),
    ("nul-bytes", "text with NUL bytes all through", b"# Model\x00\x00\x00" * 400, "parse card:closed"),
    ("deep-yaml", "front matter nested 5000 levels deep", DEEP.encode(), "parse licence:unknown"),
    ("alias-bomb", "a YAML alias bomb (billion laughs)", BOMB.encode(), "parse licence:unknown"),
    ("yaml-syntax", "front matter that is not YAML", b"---\nlicense: [mit\n---\n# M\n", "parse licence:unknown"),
    ("yaml-list", "front matter that is a list, not a mapping", b"---\n- a\n- b\n---\n# M\n", "parse"),
    ("yaml-scalar", "front matter that is a bare string", b"---\njust text\n---\n# M\n", "parse"),
    ("unclosed-front-matter", "an opening --- never closed", b"---\nlicense: mit\n# M\n", "card:closed,partial"),
    ("licence-int", "licence of the wrong type (a number)", b"---\nlicense: 42\n---\n# M\n", "licence:closed,unknown"),
    ("licence-list-mixed", "licence list with a null and a mapping", b"---\nlicense: [mit, null, {a: b}]\n---\n# M\n",
     "licence:open,partial,closed,unknown"),
    ("licence-null", "license: null", b"---\nlicense:\n---\n# M\n", "licence:closed,unknown"),
    ("tags-non-string", "tags that are numbers, lists and mappings", b"---\ntags: [1, [2], {a: 3}, null]\n---\n# M\n",
     "card:closed,partial"),
    ("datasets-mapping", "datasets as a mapping", b"---\ndatasets: {a: b}\n---\n# M\n", "card:closed,partial"),
    ("base-model-dotdot", "base_model ../x (a path, not an id)", b"---\nbase_model: ../../etc/passwd\n---\n# M\n",
     "card:closed,partial"),
    ("base-model-url", "base_model as a URL with a query", b"---\nbase_model: https://x.example/a?b=c#d\n---\n# M\n",
     "card:closed,partial"),
    ("base-model-self", "a model that names itself as its base", b"---\nbase_model: badinput/base-model-self\n---\n#M\n",
     "card:closed,partial"),
    ("html-only", "a card that is HTML only", b"<html><body><h1>Model</h1><p>" + b"Trained on text. " * 50 +
     b"</p><script>alert(1)</script></body></html>", "card:closed,partial,open"),
    ("script-entities", "entities that decode to a script tag", b"# M\n\n&lt;script&gt;alert(1)&lt;/script&gt;\n",
     "card:closed,partial"),
    ("ansi-heading", "a heading holding terminal escape sequences", ANSI.encode(), "licence:open"),
    ("rich-markup", "Rich markup in the card", b"# [link=http://evil.example/]CLICKME[/link] [bold red]x[/]\n",
     "card:closed,partial"),
    ("huge-card", "a 5 MB card", VALID_HEAD.encode() + b"## Training\n\n" + b"We trained it on text. " * 230000,
     "licence:open card:partial,open"),
    ("huge-line", "a single 2 MB line", VALID_HEAD.encode() + b"x" * 2_000_000, "licence:open"),
    ("many-headings", "20,000 headings", VALID_HEAD.encode() + b"".join(b"## H%d\n\ntext\n" % i for i in range(20000)),
     "licence:open"),
    ("fenced-unclosed", "a code fence never closed", VALID_HEAD.encode() + b"```python\n" + b"x = 1\n" * 1000,
     "licence:open"),
    ("deep-lists", "Markdown lists nested 500 deep", VALID_HEAD.encode() + b"".join(b"  " * i + b"- x\n"
                                                                                    for i in range(500)),
     "licence:open"),
    ("deep-quotes", "block quotes nested 5000 deep", VALID_HEAD.encode() + b">" * 5000 + b" x\n", "licence:open"),
    ("control-chars", "control characters through the text", VALID_HEAD.encode() + b"# M\x07\x08\x0b\n", "licence:open"),
    ("rtl-override", "right-to-left override characters", VALID_HEAD.encode() + "# \u202eledom\u202c\n".encode(),
     "licence:open"),
    ("surrogates", "lone surrogates escaped in UTF-8 bytes", VALID_HEAD.encode() + b"# \xed\xa0\x80\n", "licence:open"),
    ("table-ragged", "a Markdown table with ragged rows", VALID_HEAD.encode() + b"|a|b|\n|-|\n|1|2|3|4|\n|\n",
     "licence:open"),
    ("link-javascript", "a javascript: link", VALID_HEAD.encode() + b"[x](javascript:alert(1))\n", "licence:open"),
    ("github-dotdot-link", "a GitHub link with ../ in it", VALID_HEAD.encode() +
     b"code: https://github.com/../../etc/passwd and https://github.com/a/../b\n", "licence:open"),
    ("extra-gated-huge", "a 100 kB gating prompt", b"---\nextra_gated_prompt: '" + b"agree " * 17000 + b"'\n---\n",
     "licence:closed,unknown,partial"),
    ("yaml-date-not-a-date", "a front-matter date that does not exist (2024-02-30)",
     b"---\nlicense: apache-2.0\nrelease_date: 2024-02-30\n---\n# M\n", "licence:open"),
    ("yaml-int-5000-digits", "a front-matter integer of 5,000 digits",
     b"---\nlicense: apache-2.0\nparameters: " + b"9" * 5000 + b"\n---\n# M\n", "licence:open"),
    ("yaml-tags-unbuildable", "front-matter values tagged as what they are not (!!float abc, !!bool maybe)",
     b"---\nlicense: apache-2.0\na: !!float abc\nb: !!bool maybe\nc: !!timestamp x\n---\n# M\n", "licence:open"),
    ("yaml-recursive-alias", "a front-matter alias inside itself", b"---\nlicense: mit\na: &x [*x]\n---\n# M\n",
     "parse licence:unknown"),
    ("lookalike-claim", "an open-source claim spelt with a Cyrillic o",
     VALID_HEAD.encode() + "# M\n\nOur model is \u043epen source.\n".encode(), "licence:open"),
]

# Licence files planted beside a card that declares no licence: (id, what, file name, bytes, yields).
LICENCE_CASES = [
    ("licence-png", "an image saved as LICENSE", "LICENSE", b"\x89PNG\r\n\x1a\n" + bytes(3000), "parse"),
    ("licence-pdf", "a PDF saved as LICENSE", "LICENSE", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 20,
     "parse"),
    ("licence-utf16", "an Apache licence in UTF-16", "LICENSE",
     "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n".encode("utf-16"), "licence:open"),
    ("licence-empty", "an empty LICENSE", "LICENSE", b"", "licence:closed,unknown"),
    ("licence-huge", "a 3 MB LICENSE", "LICENSE", b"Permission is hereby granted, free of charge. " * 65000,
     "licence:open,closed,partial"),
]

# Answers of the wrong shape, fed to the spiders' callbacks: (id, what, callback, body, expected error kind).
SHAPE_CASES = [
    ("model-json-list", "model JSON that is a list", "hub_json", b"[1, 2]", "model_json"),
    ("model-json-no-sha", "model JSON without a sha", "hub_json", b'{"id": "a/b"}', "model_json"),
    ("model-json-sha-int", "a sha that is a number", "hub_json", b'{"id": "a/b", "sha": 7}', "model_json"),
    ("model-json-truncated", "model JSON cut short", "hub_json", b'{"id": "a/b", "sha": "abc', "model_json"),
    ("model-json-html", "an HTML page instead of model JSON", "hub_json", b"<!DOCTYPE html><html></html>",
     "model_json"),
    ("siblings-not-list", "siblings that are a string", "hub_json",
     json.dumps({"id": "a/b", "sha": "0" * 40, "siblings": "x", "cardData": "y", "tags": [1, None]}).encode(),
     "model_json"),
    ("tree-not-list", "a tree page that is an object", "hub_tree", b'{"path": "x"}', "tree"),
    ("tree-entries-junk", "tree entries that are not objects", "hub_tree", b'[1, "a", null, {"type": "file"}]', None),
    ("listing-object", "a listing page that is an object", "hub_listing", b'{"models": []}', "listing"),
    ("listing-rows-junk", "listing rows of the wrong types", "hub_listing", b'[1, null, {"id": 5}, {"id": "a/b"}]',
     "model_json"),
    ("gh-repo-truncated", "a GitHub repo JSON cut short", "gh_repo", b'{"full_name": "a/b", "default', "gh_repo_json"),
    ("gh-repo-list", "a GitHub repo JSON that is a list", "gh_repo", b"[]", "gh_repo_json"),
    ("gh-head-junk", "a head commit that is not a sha", "gh_head", b"not a sha at all", "gh_head"),
    ("gh-tree-truncated", "a GitHub tree cut short", "gh_tree", b'{"sha": "x", "tree": [{"pa', "gh_tree"),
    ("gh-tree-dotdot", "tree paths with ../ and absolute paths", "gh_tree",
     json.dumps({"sha": "0" * 40, "tree": [{"path": "../../etc/LICENSE", "type": "blob"},
                                          {"path": "/LICENSE", "type": "blob"}, {"path": "a//LICENSE", "type": "blob"},
                                          {"path": "ok/LICENSE", "type": "blob"}]}).encode(), "gh_tree"),
    ("gh-tree-duplicates", "the same path twice", "gh_tree",
     json.dumps({"sha": "0" * 40, "tree": [{"path": "LICENSE", "type": "blob"}] * 2}).encode(), None),
    ("gh-tree-100k", "a tree of 100,000 entries", "gh_tree",
     json.dumps({"sha": "0" * 40, "tree": [{"path": f"d{i % 100}/f{i}.py", "type": "blob"}
                                          for i in range(100000)]}).encode(), None),
    ("gh-file-html", "an HTML page instead of a licence file", "gh_file", b"<!DOCTYPE html><html><body>502</body>",
     "gh_file"),
]

# Redirects met on a crawl (tests/test_redirects.py serves them from loopback hosts): (model id asked, what, yields).
REDIRECT_CASES = [
    ("redir/offsite", "the model JSON redirects to a host neither endpoint nor allow-listed",
     "refused before it is sent; error kind model_json naming the URL, the one it came from and the host"),
    ("redir/cdn", "the model JSON redirects to a host given with --allow-redirect-host",
     "followed, without the token; what it answers is judged as usual (here a 404, recorded)"),
    ("redir/loop", "a redirect loop", f"cut after {REDIRECT_MAX_TIMES} hops; "
     "error kind model_json"),
]

# Ids as people might type them, refused before any request (tests/test_table.py runs them through `crawl`).
ID_CASES = ["../x", "a/..", "x/y?z=1#f", "https://example.org/a/b", "https://huggingface.co/datasets/a/b",
            "bert-base-uncased"]


def card_case_ids() -> list[str]:
    return [case[0] for case in CARD_CASES] + [case[0] for case in LICENCE_CASES]


def render() -> str:
    """docs/reliability.md."""
    lines = ["# Reliability: the fault mix and the bad-input corpus (generated)", "",
             "Generated by `python tests/bad_inputs.py > docs/reliability.md` from the cases `tests/test_reliability.py`"
             " runs; do not edit by hand.", "",
             "## Faults the replica injects (`openness replica --fault KIND:RATE[:key=value]`, drawn with `--seed`)",
             "", "| kind | what the client gets |", "|---|---|"]
    lines += [f"| `{status}` | HTTP {status}" + (" with `Retry-After` (`retry-after=S`) or `RateLimit` "
                                                 "(`ratelimit-reset=S`)" if status == 429 else "") + " |"
              for status in STATUS_FAULTS]
    lines += [f"| `{kind}` | {text} |" for kind, text in TRANSPORT_FAULTS.items()]
    lines += ["| `outage` | every answer 503 (or `status=S`) for a stretch of the crawl: after `after=N` requests, "
              "for `requests=M` more or `seconds=S` |"]
    lines += ["", "## Bounds", "", "Download caps per artifact kind (`spiders/base.py` MAX_BYTES; past one, Scrapy stops "
              "the download and the error is recorded, nothing is stored; "
              "`test_a_document_past_its_size_cap_is_cut_off_and_recorded`):", "",
              "| kind | at most |", "|---|---|"]
    lines += [f"| `{kind}` | {size / 1e6:g} MB |" for kind, size in MAX_BYTES.items()]
    lines += [f"| any other (repo JSON, head, releases) | {MAX_JSON_BYTES / 1e6:g} MB |", "",
              f"YAML: at most {YAML_MAX_DEPTH} levels and {YAML_MAX_NODES:,} nodes after alias expansion; dates, "
              f"integers of more than {YAML_MAX_INT_CHARS} characters and values that do not build are kept as their "
              "text. Judging: a document is judged up to its first "
              f"{MAX_JUDGED_LINES:,} lines and {MAX_JUDGED_CHARS:,} characters (each judgement citing a document cut "
              f"says so), a judgement keeps at most {MAX_EVIDENCE} pieces of evidence; a model the judge fails on is "
              "recorded (`errors` kind `judge`), its judgements `unknown`, and the others are judged. Every "
              "request times out (`crawl --download-timeout`, default 60 s); weight files are never downloaded.", "",
              "Redirects are followed only to the endpoints' own hosts and " + ", ".join(f"`{h}`" for h in REDIRECT_HOSTS)
              + " (and their subdomains; more with `crawl --allow-redirect-host`), at most "
              f"{REDIRECT_MAX_TIMES} hops; a token goes only to its own endpoint (base URL and path: also when both "
              "endpoints share a host), never through a redirect off it "
              "(`test_redirects_are_followed_only_to_allowed_hosts_without_the_token_and_loops_are_recorded`), and "
              "neither token appears in the DB, logs, error messages, `show`, `errors`, the table page, any export or "
              "the review pages (`test_tokens_appear_in_no_output_of_a_crawl`)."]
    lines += ["", "Waits: no request waits more than MAX_WAIT "
              f"({settings.MAX_WAIT:g} s) at once, for a server's `Retry-After`, `RateLimit` or `x-ratelimit-reset` or a "
              "budget, nor takes more than MAX_REQUEST_TIME "
              f"({settings.MAX_REQUEST_TIME:g} s) through its retries; a longer wait is an outage: the request fails "
              "at once, recorded, its repo left incomplete for the next run (`tests/test_hostile_network.py`). "
              "Ctrl-C or SIGTERM end a run within seconds at any time, `interrupted` (exit 130).", "",
              "`test_one_run_through_the_fault_mix_ends_with_the_clean_crawls_judgements` crawls 30 snapshot models "
              "through the fault mix of issue 30 (rates in the test): 5xx, 408, resets, timeouts, truncated bodies, "
              "JSON that does not parse and HTML pages are retried with exponential backoff and jitter "
              f"(RETRY_TIMES {settings.RETRY_TIMES}, from {settings.RETRY_BACKOFF_BASE:g} s doubling to "
              f"{settings.RETRY_BACKOFF_MAX:g} s), 429s wait as told, and the one run ends with the judgements and "
              "evidence of a clean crawl. "
              "`test_a_503_outage_mid_crawl_ends_with_the_clean_crawls_judgements_after_the_next_run`: an outage the "
              "retries ride out changes nothing; one past them is recorded in `errors` with its URL and reason, its "
              "repos left incomplete (exit 1), and the next run ends with the judgements of a clean crawl.", "",
              f"## Bad inputs ({len(CARD_CASES) + len(LICENCE_CASES) + len(SHAPE_CASES) + len(REDIRECT_CASES) + len(ID_CASES)} cases)", "",
              "Yields: `parse` — a `parse` row in `errors` naming the document's URL; `licence:L` / `card:L` — the "
              "licences / model card judgement is one of L; `error kind K` — a recorded error of kind K naming the "
              "URL; `handled` — no error and no crash, the good parts used. Every case must also finish in bounded "
              "time and leave the crawl `completed`.", "",
              "| case | input | yields |", "|---|---|---|"]
    lines += [f"| `{c}` | card: {what} | {yields} |" for c, what, _, yields in CARD_CASES]
    lines += [f"| `{c}` | {name}: {what} | {yields} |" for c, what, name, _, yields in LICENCE_CASES]
    lines += [f"| `{c}` | answer: {what} | {f'error kind {kind}' if kind else 'handled'} |"
              for c, what, _, _, kind in SHAPE_CASES]
    lines += [f"| `{model}` | redirect: {what} | {yields} |" for model, what, yields in REDIRECT_CASES]
    lines += [f"| `id {text}` | a model id as typed | refused, exit 2, the message quotes it |" for text in ID_CASES]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
