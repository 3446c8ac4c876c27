"""The `openness` command: a thin shell over the library modules (parse options, call, print)."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
from pathlib import Path

import click
from rich.console import Console

from crawler.corpus import Corpus, CorpusError
from crawler.cli_options import (Commands, require_store, db_option, endpoint_options, in_processes, json_option,
                                  output_path, print_version, workers_option)
from crawler.settings import RECHECK_DAYS

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SNAPSHOT_DIR = DATA_DIR / "snapshot"
# The 14 criteria, listed here so `--help` works without importing the extractors (spaCy is slow to load).
CRITERIA_CHOICES = ("datasources_basemodel", "datasources_endmodel", "weights_basemodel", "weights_endmodel",
                    "trainingcode", "code", "hardware_architecture", "preprint", "paper", "modelcard", "datasheet",
                    "package", "api", "licenses")
console = Console(stderr=False)
errors = Console(stderr=True)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=print_version,
              help="Print the tool, extractor and schema versions and exit.")
def cli():
    """Openness evidence crawler: judge how open AI models on Hugging Face and GitHub really are, with evidence.

    Crawl stores raw artifacts (model JSON, card, file tree) in SQLite; assessment turns them into judgements per
    criterion (open / partial / closed / unknown), each with evidence: source URL at a revision, file, lines, quote,
    and the rule that fired. Tokens come from HF_TOKEN / GITHUB_TOKEN and go only to their own host.
    """


def _stop_on_sigterm(signum, frame):
    """`kill` (SIGTERM) stops the replica as Ctrl-C does: close the socket and exit cleanly."""
    raise KeyboardInterrupt


@cli.command()
@click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False, path_type=Path), default=SNAPSHOT_DIR,
              show_default="the bundled snapshot", help="Corpus directory to serve (format: docs/corpus.md).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; keep it on loopback.")
@click.option("--port", default=0, show_default=True, help="Port to bind; 0 picks a free one.")
@click.option("--page-size", default=1000, show_default=True, help="Entries per page of listings and trees.")
@click.option("--delay", default=0.0, show_default=True, help="Seconds to wait before each answer (a slow Hub).")
@click.option("--hub-quota", default="", metavar="api=N,resolvers=N",
              help="Answer 429 with RateLimit headers past N calls per window and bucket, as the Hub does.")
@click.option("--quota-window", default=300.0, show_default=True, help="Seconds of a --hub-quota window.")
@click.option("--fault", "faults", multiple=True, metavar="KIND:RATE[:key=value]",
              help="Inject failures, repeatable, drawn with --seed: KIND is 429 (with retry-after=S or "
                   "ratelimit-reset=S), 500, 502, 503, 504, reset, timeout (seconds=S), truncate, badjson, html or "
                   "slow (seconds=S between pieces), or outage (after=N:requests=M or after=N:seconds=S: every answer "
                   "of that stretch 503); e.g. 429:0.2:retry-after=1, timeout:0.05:seconds=3, "
                   "outage:1:after=100:requests=200.")
@click.option("--seed", default=0, show_default=True, help="Seed of the fault draws: the same seed, the same faults.")
@click.option("--synthetic", default=0, show_default=True, type=click.IntRange(min=0),
              help="Add N synthetic models (ids and shapes from a real Hub listing, cards from real captures; "
                   "past the listing's end its rows again, ids suffixed -synthetic-2, -synthetic-3...).")
@click.option("--mutate", default=0.0, show_default=True, type=click.FloatRange(0, 1), metavar="SHARE",
              help="With --synthetic: change this share of the synthetic models (a new sha and a card with one line "
                   "more, modified now), drawn with --mutate-seed; serve again with another seed to change others.")
@click.option("--mutate-seed", default=0, show_default=True, help="Seed of the --mutate draw.")
@click.option("--synthetic-seed", default=0, show_default=True,
              help="Seed of the synthetic models' draws (which are derivatives, of which base, under which licence; "
                   "which synthetic datasets are gated): the same seed, the same rows.")
@click.option("--listing", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=DATA_DIR / "hub-listing" / "models-2023-10-01.csv.gz", show_default="the bundled 2023 listing",
              help="Hub listing CSV (.csv or .csv.gz) that --synthetic takes ids and shapes from.")
@click.option("--github-limit", default=5000, show_default=True, type=click.IntRange(min=1),
              help="GitHub requests per window before 403 rate-limit answers (60 mimics anonymous GitHub).")
@click.option("--github-window", default=3600, show_default=True, type=click.IntRange(min=1),
              help="Seconds of a GitHub rate-limit window.")
@click.option("--truncate-trees", default=0, show_default=True, type=click.IntRange(min=0),
              help="Answer recursive GitHub trees longer than N entries with `truncated: true` (0: never).")
def replica(corpus_dir: Path, host: str, port: int, page_size: int, delay: float, hub_quota: str,
            quota_window: float, faults: tuple[str, ...], seed: int, synthetic: int, mutate: float, mutate_seed: int,
            synthetic_seed: int, listing: Path,
            github_limit: int, github_window: int, truncate_trees: int):
    """Serve a corpus as a loopback replica of the Hugging Face Hub and GitHub REST APIs.

    Prints its base URL on the first line of output, then serves until interrupted. Point the crawler (or
    huggingface_hub's HfApi(endpoint=URL)) at that URL for both --hf-endpoint and --github-endpoint.
    """
    from crawler.replica.server import ReplicaServer

    from crawler.replica.limits import Fault, FaultInjector, FaultSpecError, HubQuota

    try:
        corpus = Corpus(corpus_dir)
        if synthetic:
            from crawler.replica.synthetic import SyntheticHub
            SyntheticHub(corpus, synthetic, listing, mutate, mutate_seed, synthetic_seed)  # built lazily, row i from i
        quota = HubQuota.parse(hub_quota, quota_window) if hub_quota else None
        injector = FaultInjector([Fault.parse(f) for f in faults], seed) if faults else None
    except (CorpusError, FaultSpecError) as exc:
        raise click.ClickException(str(exc)) from exc
    from crawler.replica.github import RateBudget

    server = ReplicaServer(corpus, host=host, port=port, page_size=page_size, delay=delay, hub_quota=quota,
                           faults=injector, truncate_trees=truncate_trees,
                           github_budget=RateBudget(github_limit, github_limit, github_window))
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    click.echo(server.base_url, nl=True)
    sys.stdout.flush()
    errors.print(f"replica: {len(corpus.models) + synthetic} models, {len(corpus.datasets)} datasets, {len(corpus.github)} "
                 f"GitHub repos from {corpus_dir}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# `crawl --incremental` is "only what changed, of what was asked": what was asked is named, never implied.
INCREMENTAL_SCOPE = ("--incremental rechecks what was asked, and nothing was: name model ids, --seeds FILE or "
                     "--from-labels DIR to recheck those models (no listing request), or add --discover to walk "
                     "the Hub listing down to the last run's watermark")


def _model_ids(model_ids: tuple[str, ...], seeds: Path | None, labels: Path | None) -> tuple[list[str], list[str]]:
    """Model ids from the arguments, a seeds file and label files; and the GitHub repos the labels name."""
    from crawler.labels import repos_in_label_dir
    from crawler.run import read_seeds

    from crawler.ids import BadId, parse_ref

    named, github = list(model_ids), []
    if seeds:
        named += read_seeds(seeds)
    ids = []
    for text in named:
        try:
            kind, ref = parse_ref(text)
        except BadId as exc:
            raise click.BadParameter(str(exc), param_hint="MODEL_ID") from exc
        (ids if kind == "model" else github).append(ref)  # a GitHub URL: crawled by the GitHub spider
    if labels:
        label_models, label_repos = repos_in_label_dir(labels)
        ids += label_models
        github += label_repos
    return list(dict.fromkeys(ids)), list(dict.fromkeys(github))


def _hub_model(text: str) -> str:
    """A model id as people paste it (an id, a Hub URL); a clear error for anything else."""
    from crawler.ids import BadId, model_id

    try:
        return model_id(text)
    except BadId as exc:
        raise click.BadParameter(str(exc), param_hint="MODEL_ID") from exc


def _subjects_of(text: str) -> list[str]:
    """The subject a pasted id or URL names: a Hub model, or a GitHub repo."""
    from crawler.ids import BadId, parse_ref

    try:
        kind, ref = parse_ref(text)
    except BadId as exc:
        raise click.BadParameter(str(exc), param_hint="--model") from exc
    return [f"hf:model:{ref}"] if kind == "model" else [f"gh:{ref}"]


def print_table(db, model_ids: list[str] | None = None, run_id: int | None = None, sort: str = "openness",
                limit: int | None = None) -> int:
    """The league table as text, as wide as the terminal (80 columns when piped), glyphs coloured on a terminal;
    at most `limit` rows. Returns how many rows were left out."""
    from crawler import table

    shown = table.rows(db, model_ids, sort, run_id, limit)
    for line in table.text(shown, width=console.width, colour=console.is_terminal):
        console.print(line, markup=console.is_terminal, highlight=False, soft_wrap=True)
    return table.row_count(db, model_ids, run_id) - len(shown) if limit else 0


CRAWL_TABLE_ROWS = 40  # a crawl of thousands of models prints the first rows, and how to see the rest


def print_run_table(db, run_id: int, db_path: Path) -> None:
    """The table of the models a run touched, the most open first, cut at CRAWL_TABLE_ROWS rows."""
    from crawler.terminal import runnable

    left_out = print_table(db, run_id=run_id, limit=CRAWL_TABLE_ROWS)
    if left_out:
        console.print(f"... and {left_out} more models of this run:", markup=False)
        click.echo("  " + runnable("table", "--run", run_id, "--db", db_path))


def _run_crawl(db_path: Path, options, verbose: bool) -> int:
    """Crawl, print the run's table and counts, and return the exit code for schedulers (README: exit codes)."""
    from crawler.ops.lock import LockHeld
    from crawler.run import count_lines, crawl
    from crawler.pipelines import STORE_FAILED
    from crawler.store import NotAStore, StoreError, check_store, guarded_store, open_db

    options.log_level = "INFO" if verbose else "WARNING"
    try:
        check_store(db_path)  # before the lock file is made beside it
        with guarded_store(db_path):
            result = crawl(db_path, options, command=["openness", *sys.argv[1:]])
            if failed := [key.removeprefix(STORE_FAILED) for key in result.counts if key.startswith(STORE_FAILED)]:
                raise StoreError(f"{db_path}: the store cannot be written: {failed[0]}; run {result.run_id} marked "
                                 f"failed")
    except (LockHeld, StoreError) as exc:
        verdict = "failed" if isinstance(exc, StoreError) and not isinstance(exc, NotAStore) else "refused"
        errors.print(f"{verdict}: {exc} (exit 2)", markup=False, soft_wrap=True)
        return 2
    for run_id in result.abandoned:
        errors.print(f"run {run_id} had been left running by a process that died: marked abandoned; this run "
                     f"completes its work")
    if result.lock_note:
        errors.print(result.lock_note, markup=False)
    db = open_db(db_path)
    if result.status == "completed":
        print_run_table(db, result.run_id, db_path)
    judged_in = in_processes(options.workers, result.assessed)
    console.print(f"run {result.run_id}: {result.assessed} models assessed{judged_in}")
    for line in count_lines(result.counts, result.run_id, hint=False):
        console.print("  " + line)
    if db["errors"].count_where("run_id = ?", [result.run_id]):
        from crawler.terminal import runnable

        console.print("  the errors by cause and model:")
        click.echo("    " + runnable("errors", "--run", result.run_id, "--db", db_path))
    console.print(f"database: {db_path.resolve()}")
    db.close()
    console.print(result.final_line, markup=False)
    return result.exit_code


@cli.command()
@click.argument("model_ids", nargs=-1)
@click.option("--seeds", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="File of model ids, one per line; `#` starts a comment.")
@click.option("--from-labels", "labels", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Directory of expert label YAML files (either schema, subfolders too): crawl the Hugging Face "
                   "models they link to, and queue the GitHub repos they name.")
@click.option("--discover", is_flag=True,
              help="Walk the Hub's model listing (the whole Hub unless narrowed by the options below), taking each "
                   "model's metadata from the listing pages.")
@click.option("--author", help="With --discover: only this author's models.")
@click.option("--search", help="With --discover: only ids containing this text.")
@click.option("--pipeline-tag", help="With --discover: only this task, e.g. text-generation.")
@click.option("--sort", type=click.Choice(["downloads", "lastModified"]), help="With --discover: order of the walk.")
@click.option("--limit", type=click.IntRange(min=1), help="With --discover: stop after this many models.")
@click.option("--tier", type=click.Choice(["deep", "listing"]), default="deep", show_default=True,
              help="deep: each model's card, files and code repos. listing (with --discover): tier 0, the model and "
                   "dataset listings only, every listed model judged from its listing row (a deep judgement, when "
                   "there is one, replaces it).")
@click.option("--from-listing", is_flag=True,
              help="Tier deep: take the seeds from the stored listing (tier 0), first the models the deep crawl "
                   "should check first (--deep-order); models judged deep at their listed sha are done.")
@click.option("--deep-limit", type=click.IntRange(min=1), metavar="N",
              help="With --from-listing: crawl the first N models of the queue (default 10000).")
@click.option("--deep-order", default="claims,changed,new-of-judged-orgs,downloads,likes", show_default=True,
              metavar="KEY,...",
              help="With --from-listing: the queue's order, keys first to last: claims (an open licence or an "
                   "openness claim in the listing row), changed (sha changed since its deep crawl), "
                   "new-of-judged-orgs (never crawled deep, by an author with models judged deep), downloads, likes.")
@click.option("--deep-time", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Tier deep: start no new model after SECONDS; the started ones finish and are judged, the next "
                   "run takes the rest.")
@click.option("--depth", default=2, show_default=True, type=click.IntRange(min=0),
              help="How far to follow base models and datasets from each model.")
@click.option("--full", is_flag=True, help="Refetch everything, even repos whose sha has not changed.")
@click.option("--incremental", is_flag=True,
              help="What scheduled runs use: only what changed, of what was asked. With model ids, --seeds or "
                   "--from-labels: recheck exactly those models (conditional requests; a repo whose sha is "
                   "unchanged is not fetched again) and what changed ones link to, with no listing request. With "
                   "--discover: walk the Hub listing newest change first (sort=lastModified) down to the last "
                   "successful run's watermark (one page when nothing changed). Either way, each GitHub repo "
                   "crawled before and last asked --recheck-days ago gets a conditional request. Needs model ids, "
                   "--seeds, --from-labels or --discover.")
@click.option("--recheck-days", default=RECHECK_DAYS, show_default=True, type=click.FloatRange(min=0), metavar="DAYS",
              help="Days before a repo with no sign of change is asked again: a followed base model, dataset or "
                   "linked GitHub repo that answered 404, and (with --incremental) a GitHub repo no changed model "
                   "links. 0 asks them every run. Repos named as arguments or by labels are always asked.")
@click.option("--github/--no-github", default=True, show_default=True,
              help="Then crawl the GitHub repos the models link to and the labels name.")
@click.option("--api-budget", type=click.IntRange(min=1),
              help="Hub API calls per 5 minutes (default: 500 anonymous, 1000 with HF_TOKEN).")
@click.option("--resolver-budget", type=click.IntRange(min=1),
              help="Hub file downloads per 5 minutes (default: 3000 anonymous, 5000 with HF_TOKEN).")
@click.option("--distributed", "redis_url", metavar="redis://HOST:PORT/N",
              help="Be one crawler process of a distributed crawl: share the request queue, dupefilter, claims and "
                   "rate budgets with every other crawler on this Redis, and push items to it for the single "
                   "writer (`openness ingest --redis URL`, started first), which writes --db and assesses.")
@click.option("--download-timeout", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Seconds to wait for an answer before retrying (default 60).")
@click.option("--allow-redirect-host", "redirect_hosts", multiple=True, metavar="HOST",
              help="Also follow redirects to this host and its subdomains (repeatable). Redirects are followed only "
                   "to the endpoints' hosts and the Hub's and GitHub's own content hosts; any other is refused and "
                   "recorded in errors.")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Set a Scrapy setting of crawler/settings.py or Scrapy's for this run (repeatable), e.g. the bounds "
                   "MAX_WAIT=600 (longest wait for a rate limit, in seconds), MAX_REQUEST_TIME, RETRY_TIMES.")
@click.option("--wait-for-run", default=600.0, show_default=True, type=click.FloatRange(min=0),
              help="With --distributed: seconds to wait for `openness ingest` to open a run on the Redis.")
@db_option(creates=True)
@endpoint_options
@workers_option
@click.option("-v", "--verbose", is_flag=True, help="Log every request (Scrapy INFO level).")
def crawl(model_ids, seeds, labels, discover, author, search, pipeline_tag, sort, limit, tier, from_listing, deep_limit,
          deep_order, deep_time, depth, full, incremental, recheck_days, github, api_budget, resolver_budget, download_timeout, redirect_hosts, overrides, redis_url,
          wait_for_run, db_path, hf_endpoint, github_endpoint, workers, verbose):
    """Crawl models from the Hub with what they point to, store every artifact, then assess them.

    For each model: its JSON, card, whole file tree, licence / policy / config files; then its base models and
    datasets to --depth. A model whose sha is unchanged since its last complete crawl is not fetched again (unless
    --full). MODEL_ID is a Hugging Face model id such as meta-llama/Meta-Llama-3-8B. Running the same command again
    after an interruption, or after a crash, completes the crawl; stored artifacts are never duplicated. One crawl
    at a time per DB: a second is refused while the first runs.

    Exit codes, for schedulers: 0 success (absent or not-captured repos are facts, not failures); 1 finished with
    failures recorded in the errors table; 2 failed (nothing was answered, bad configuration, or the DB is locked
    by another crawl). The last line says which.
    """
    from crawler.priority import deep_time_settings
    from crawler.run import CrawlOptions, setting_overrides

    try:
        settings = setting_overrides(overrides)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from exc
    ids, label_repos = _model_ids(model_ids, seeds, labels)
    listing = {"author": author, "search": search, "pipeline_tag": pipeline_tag, "sort": sort, "limit": limit}
    if any(listing.values()) and not discover:
        raise click.UsageError("--author, --search, --pipeline-tag, --sort and --limit go with --discover")
    if incremental:
        if sort not in (None, "lastModified") or full:
            raise click.UsageError("--incremental walks the listing by lastModified; it takes neither --sort "
                                   "downloads nor --full")
        if not ids and not label_repos and not discover:
            raise click.UsageError(INCREMENTAL_SCOPE)
        if discover:
            listing["sort"] = "lastModified"
    if tier == "listing" and (ids or label_repos or not discover):
        raise click.UsageError("--tier listing reads the listing: it goes with --discover, without model ids, "
                               "--seeds or --from-labels")
    if from_listing or deep_time:
        ids = _deep_seeds(db_path, ids, from_listing, deep_limit, deep_order, deep_time, tier,
                          discover or incremental or bool(redis_url))
        if not ids and not label_repos:
            click.echo("the deep queue is empty: every listed model is judged deep at its listed sha")
            sys.exit(0)
        settings = {**deep_time_settings(deep_time), **settings}
    elif deep_limit or click.get_current_context().get_parameter_source("deep_order") != \
            click.core.ParameterSource.DEFAULT:
        raise click.UsageError("--deep-limit and --deep-order go with --from-listing")
    if not ids and not label_repos and not discover:
        raise click.UsageError("name at least one model id, or use --seeds FILE, --from-labels DIR or --discover")
    options = CrawlOptions(hf_endpoint, github_endpoint, model_ids=ids, github_repos=label_repos,
                           discover=listing if discover else None, max_depth=depth, full=full, github=github,
                           api_budget=api_budget, resolver_budget=resolver_budget, incremental=incremental,
                           download_timeout=download_timeout, redirect_hosts=list(redirect_hosts),
                           recheck_days=recheck_days, workers=workers, settings=settings, tier=tier)
    if redis_url:
        if click.get_current_context().get_parameter_source("workers") != click.core.ParameterSource.DEFAULT:
            raise click.UsageError("--workers judges a local crawl's models; a distributed run is judged by "
                                   "`openness ingest --workers N`")
        sys.exit(_run_distributed_crawler(redis_url, options, verbose, wait_for_run))
    sys.exit(_run_crawl(db_path, options, verbose))


def _deep_seeds(db_path: Path, ids: list[str], from_listing: bool, deep_limit: int | None, deep_order: str,
                deep_time: float | None, tier: str, refused: bool) -> list[str]:
    """The seeds of a deep run from the listing (crawler/priority.py), after the named ones; usage errors raised
    (`refused`: --discover, --incremental or --distributed was given)."""
    if tier != "deep" or refused:
        raise click.UsageError("--from-listing and --deep-time go with --tier deep, without --discover, "
                               "--incremental or --distributed")
    if not from_listing:
        return ids
    from crawler.ops.lock import LockHeld
    from crawler.priority import NoListing, parse_order, seeds_from_listing
    from crawler.store import StoreError

    try:
        order = parse_order(deep_order)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--deep-order") from exc
    try:
        return seeds_from_listing(db_path, ids, deep_limit, order)
    except NoListing as exc:
        raise click.UsageError(str(exc)) from exc
    except (LockHeld, StoreError) as exc:
        errors.print(f"refused: {exc} (exit 2)", markup=False, soft_wrap=True)
        sys.exit(2)


def _run_distributed_crawler(redis_url: str, options, verbose: bool, wait: float) -> int:
    from crawler.ops.distributed import DistributedError, crawl_distributed
    from crawler.run import count_lines

    options.log_level = "INFO" if verbose else "WARNING"
    try:
        run_id, fetched = crawl_distributed(redis_url, options, wait)
    except DistributedError as exc:
        errors.print(f"failed: {exc} (exit 2)", markup=False)
        return 2
    for line in count_lines(fetched.counts):
        console.print("  " + line)
    code = {"completed": 0, "interrupted": 130}.get(fetched.status, 2)
    console.print(f"crawler of run {run_id}: {fetched.status}; items pushed to {redis_url} for `openness ingest` "
                  f"(exit {code})", markup=False)
    return code


@cli.command()
@click.option("--redis", "redis_url", required=True, metavar="redis://HOST:PORT/N",
              help="The Redis of the distributed crawl (the URL every `openness crawl --distributed` is given).")
@db_option(creates=True)
@click.option("--wait", default=600.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds to wait for the first crawler before the run fails with nothing answered.")
@click.option("--recheck-days", default=RECHECK_DAYS, show_default=True, type=click.FloatRange(min=0), metavar="DAYS",
              help="As for `openness crawl`: days before a repo that answered 404, or a GitHub repo crawled before, "
                   "is asked again (0: every run).")
@workers_option
def ingest(redis_url, db_path, wait, recheck_days, workers):
    """The single writer of a distributed crawl: open a run on Redis, write every item the crawler processes push
    into the store, and when every crawler is done (none alive, nothing left to write), assess and close the run.

    Start it first, then any number of `openness crawl --distributed URL ...` processes on any machines that reach
    the Redis and the Hub. Exit codes as for `openness crawl`.
    """
    from crawler.ops.distributed import DistributedError, ingest as run_ingest
    from crawler.ops.lock import LockHeld
    from crawler.run import count_lines
    from crawler.store import StoreError, check_store, guarded_store, open_db

    progress = {"next": 0}

    def report(written: int) -> None:
        if written >= progress["next"]:
            errors.print(f"ingested {written} items")
            progress["next"] = written + 1000

    try:
        check_store(db_path)  # before the lock file is made beside it
        with guarded_store(db_path):
            result = run_ingest(db_path, redis_url, shlex_command(), wait=wait, on_progress=report,
                                recheck_days=recheck_days, workers=workers)
    except (LockHeld, DistributedError, StoreError) as exc:
        errors.print(f"refused: {exc} (exit 2)", markup=False, soft_wrap=True)
        sys.exit(2)
    for run_id in result.abandoned:
        errors.print(f"run {run_id} had been left running by a process that died: marked abandoned")
    db = open_db(db_path)
    if result.status == "completed":
        print_run_table(db, result.run_id, db_path)
    db.close()
    console.print(f"run {result.run_id}: {result.assessed} models assessed{in_processes(workers, result.assessed)}")
    for line in count_lines(result.counts, result.run_id):
        console.print("  " + line)
    console.print(f"database: {db_path.resolve()}")
    console.print(result.final_line, markup=False)
    sys.exit(result.exit_code)


def shlex_command() -> str:
    import shlex

    return shlex.join(["openness", *sys.argv[1:]])


@cli.command()
@click.argument("model_ids", nargs=-1)
@click.option("--force", is_flag=True, help="Judge every model again, also those whose artifacts and rules are "
                                             "unchanged since their last assessment.")
@workers_option
@db_option()
def assess(model_ids, force, workers, db_path):
    """Recompute judgements from stored artifacts, without any network (e.g. after rules changed).

    With no MODEL_ID, every crawled model is assessed. A model whose artifacts, links and the judge's rules and
    code are unchanged since its last assessment keeps its judgements (same inputs, same judgements) unless
    --force.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from crawler.assess import assess as assess_models
    from crawler.assess import assess_selection
    from crawler.ops.lock import LockHeld, StoreLock
    from crawler.store import open_db

    require_store(db_path)
    db = open_db(db_path)
    wanted = list(model_ids) or None
    total = db["subjects"].count_where(*assess_selection(wanted))
    try:
        with StoreLock(db_path, "assess"), Progress(TextColumn("assessing"), BarColumn(), MofNCompleteColumn(),
                                                    TimeElapsedColumn(), console=errors,
                                                    disable=not errors.is_terminal) as progress:
            task = progress.add_task("assess", total=total)
            failed: list[str] = []
            count = assess_models(db, wanted, force=force, workers=workers,
                                  on_progress=lambda: progress.advance(task), on_failure=failed.append)
    except LockHeld as exc:
        errors.print(f"refused: {exc} (exit 2)", markup=False)
        sys.exit(2)
    console.print(f"assessed {count} models in {db_path}{in_processes(workers, count)}" + (
        f" ({total - count} unchanged since their last assessment, kept)" if total > count else ""))
    if failed:
        errors.print(f"the judge failed on {len(failed)} model{'s' * (len(failed) != 1)}, their judgements left "
                     f"unknown: {', '.join(failed)} "
                     "(recorded in the errors table, kind judge) (exit 1)", markup=False)
        sys.exit(1)


@cli.command()
@click.argument("model_id")
@db_option()
@json_option
@click.option("--evidence", type=click.Choice(["deciding", "all"]), default="deciding", show_default=True,
              help="Evidence per criterion: the deciding item (saying how many more), or every item.")
@click.option("--history", is_flag=True, help="Also list every change recorded for the model, run by run.")
def show(model_id, db_path, as_json, evidence, history):
    """Print a model's judgements, a block per criterion in the index's order: level, confidence, summary, the
    deciding evidence (quote, file and lines, its public URL at the revision) and what was searched."""
    from crawler import terminal
    from crawler.ops.history import changes as recorded_changes
    from crawler.report import NotCrawled, model_report
    from crawler.store import open_db

    require_store(db_path)
    db = open_db(db_path)
    try:
        report = model_report(db, _hub_model(model_id))
    except NotCrawled as exc:
        raise click.ClickException(str(exc)) from exc
    if history:
        report["history"] = recorded_changes(db, subject_ids=[report["subject_id"]], include_first=True)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    columns = terminal.width()
    lines = terminal.show_lines(report, columns, evidence == "all")
    if history:
        lines += ["", click.style(f"History ({len(report['history'])} values recorded)", bold=True),
                  *terminal.change_lines(report["history"], columns)]
    terminal.echo_lines(lines)


@cli.command()
@db_option()
@json_option
@click.option("--since", metavar="DATE|RUN",
              help="Only changes recorded by run RUN or later (a number), or on or after DATE (YYYY-MM-DD or ISO "
                   "time, UTC). Default: every change.")
@click.option("--model", "model_id", help="Only this model (a Hub id) or GitHub repo (owner/repo).")
@click.option("--criterion", type=click.Choice(CRITERIA_CHOICES), help="Only this criterion's judgements.")
@click.option("--include-first", is_flag=True, help="Also list first values (a model seen for the first time).")
def changes(db_path, as_json, since, model_id, criterion, include_first):
    """List what changed between runs, oldest first, each old value beside the new one with the evidence of both:
    a model's judgement levels, declared licence, gating, weights present, card and revision; a GitHub repo's head
    commit and licence files."""
    from crawler import terminal
    from crawler.ops.history import changes as recorded_changes, why_nothing_changed
    from crawler.store import open_db

    require_store(db_path)
    since_run = since_date = None
    if since:
        if since.isdigit():
            since_run = int(since)
        else:
            try:
                since_date = dt.datetime.fromisoformat(since).replace(tzinfo=None).isoformat(timespec="seconds")
            except ValueError as exc:
                raise click.BadParameter(f"{since!r} is neither a run number nor a date (YYYY-MM-DD)",
                                         param_hint="--since") from exc
    db = open_db(db_path)
    options = {"since_run": since_run, "since_date": since_date, "criterion": criterion,
               "subject_ids": _subjects_of(model_id) if model_id else None}
    rows = recorded_changes(db, include_first=include_first, **options)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if rows:
        terminal.echo_lines([click.style(f"Changes ({len(rows)})", bold=True),
                             *terminal.change_lines(rows, terminal.width())])
        return
    terminal.echo_lines(terminal.wrap(why_nothing_changed(db, since, include_first=include_first, **options),
                                      terminal.width()))


@cli.command(name="table")
@click.argument("model_ids", nargs=-1)
@db_option()
@click.option("--sort", type=click.Choice(["openness", "name"]), default="openness", show_default=True,
              help="Order: by openness score (open 1, partial 1/2, closed and unknown 0, summed over the 14 "
                   "criteria, as the index ranks systems), or by model id. Models with no criterion decided (not "
                   "captured, undecided) are not ranked: listed last, marked in place of a score.")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "html", "json"]), default="text",
              show_default=True, help="text: the terminal's width (80 columns when piped), two-letter codes with a "
                                      "legend; html: one self-contained page, cells linked to their evidence.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), callback=output_path,
              help="Write to this file instead of the terminal.")
@click.option("--run", "run_id", type=click.IntRange(min=1), metavar="RUN_ID",
              help="Only the models crawl run RUN_ID touched (the number a crawl prints as `run N`).")
def table_command(model_ids, db_path, sort, output_format, out, run_id):
    """Print the league table from the store at any time: models x the 14 criteria (grouped as the index does:
    availability, documentation, access) with ✓ open, ~ partial, ✗ closed, ? unknown, and each model's score.
    MODEL_ID (ids or Hub URLs) narrows it to those models."""
    from crawler import table
    from crawler.files import write_text
    from crawler.store import open_db

    require_store(db_path)
    db = open_db(db_path)
    ids = [_hub_model(m) for m in model_ids] or None
    if output_format == "text" and out is None:
        print_table(db, ids, run_id=run_id, sort=sort)
        return
    rows = table.rows(db, ids, sort, run_id)
    rendered = {"markdown": table.markdown, "json": table.as_json, "html": table.html_page,
                "text": lambda r: "\n".join(table.text(r)) + "\n"}[output_format](rows)
    if out:
        write_text(out, rendered)
        console.print(f"{len(rows)} models written to {out}", markup=False)
    else:
        click.echo(rendered, nl=False)


@cli.command()
@click.argument("model_ids", nargs=-1)
@click.option("--format", "export_format", required=True,
              type=click.Choice(["jsonl", "csv", "index-yaml", "spdx3", "cyclonedx", "badges"]),
              help="jsonl: a line per model (JSON Schema: docs/export-jsonl.schema.json), the header first; csv: a "
                   "row per model x criterion; index-yaml: a file per model in the European Open Source AI Index's "
                   "layout; spdx3: an SPDX 3.0.1 JSON-LD AI-BOM per model (licences, datasets, base models, the "
                   "judgements as annotations); cyclonedx: a CycloneDX 1.6 ML-BOM per model; badges: shields.io "
                   "endpoint JSON per model and criterion group.")
@db_option()
@click.option("--out", default="-", show_default=True, help="File (jsonl, csv; - for standard output) or folder "
                                                             "(index-yaml, spdx3, cyclonedx, badges).")
@click.option("--effective", is_flag=True, help="Levels as analysts overrode them (the machine's kept beside); the "
                                                "header says so.")
@click.option("--criteria", type=click.Choice(["12", "14"]), default="12", show_default=True,
              help="index-yaml: the index's 12 current criteria, or the paper's 14 (package and api too).")
@click.option("--validate", is_flag=True, help="spdx3, cyclonedx: check every document against the official schema "
                                               "(and SPDX's SHACL model) offline before writing; a failing one stops "
                                               "the export, named with its findings, and nothing is written.")
@click.option("--spdx-namespace", envvar="OPENNESS_SPDX_NAMESPACE", default="https://huggingface.co/",
              show_default=True, help="spdx3: the URL SPDX element ids are minted under, as "
                                      "NAMESPACE/MODEL/tree/REVISION#spdx-ELEMENT (also OPENNESS_SPDX_NAMESPACE); "
                                      "the default makes each id the model's public page at its revision.")
def export(model_ids, export_format, db_path, out, effective, criteria, validate, spdx_namespace):
    """Export the store for other tools, streaming a model at a time: every model (or MODEL_ID...) with ids,
    revision, public URLs, the 14 judgements with evidence and what was searched, flags, reviews and framework
    verdicts (MOF class, OSI OSAID checklist, EU AI Act exemption, G7 openness tier), with a header naming tool,
    format, extractor and schema versions and the crawl run."""
    from crawler.export.cyclonedx import InvalidBom
    from crawler.export.spdx3 import InvalidSpdx, check_namespace
    from crawler.export.writer import ExportError, export as write_export
    from crawler.store import open_db

    require_store(db_path)
    try:
        namespace = check_namespace(spdx_namespace)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--spdx-namespace") from exc
    try:
        count = write_export(open_db(db_path), export_format, out, [_hub_model(m) for m in model_ids] or None,
                             effective, int(criteria), validate, namespace)
    except (ExportError, InvalidBom, InvalidSpdx) as exc:
        raise click.ClickException(str(exc)) from exc
    if out != "-":
        console.print(f"{count} models exported as {export_format} to {out}", markup=False)


@cli.command(name="errors")
@db_option()
@click.option("--run", "run_id", type=int, help="The run (default: the latest).")
@click.option("--kind", help="Only this artifact kind (model_json, card, tree, file, gh_repo_json, spider, …).")
@click.option("--cause", type=click.Choice(["not captured", "missing repo", "missing file", "gated", "refused id",
                                            "bound", "failed after retries", "parse", "spider exception",
                                            "judge exception"]),
              help="Only errors of this cause.")
@click.option("--all", "every_row", is_flag=True, help="Also list every error: cause, kind, status, model, URL, "
                                                       "reason.")
@json_option
def errors_command(db_path, run_id, kind, cause, every_row, as_json):
    """Count a run's recorded errors by cause and by model; `--all` lists each with its URL and reason. Expected in
    a working crawl: not captured (a replica or mirror holds no copy), missing repo or file (404), gated, refused id
    (a card names a path, a URL or a look-alike as a repo), bound (a bound on links or pages reached); failures:
    failed after retries, parse, spider exception, judge exception."""
    from crawler import terminal
    from crawler.ops.runs import CAUSES, error_rows
    from crawler.store import open_db

    require_store(db_path)
    db = open_db(db_path)
    run_id = run_id or db.execute("select max(id) from crawl_runs").fetchone()[0]
    rows = error_rows(db, run_id, kind, cause)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    columns = terminal.width()
    lines = terminal.error_summary_lines(rows, run_id, columns, CAUSES)
    if every_row:
        lines += terminal.error_row_lines(rows, columns)
    elif rows:
        lines += ["", "every error with its model, URL and reason:",
                  "  " + terminal.runnable("errors", "--run", run_id, "--all", "--db", db_path)]
    terminal.echo_lines(lines)


@cli.command()
@click.option("--labels", "labels_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Directory of expert label YAML files, either schema, subfolders too (e.g. data/labels).")
@db_option()
@json_option
@click.option("--criteria", help="Comma-separated criteria to compare (default: all 14).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), callback=output_path,
              help="Also write the report as Markdown to this file (docs/accuracy.md).")
@click.option("--split", type=click.Choice(["study", "check", "all"]), default="all", show_default=True,
              help="Measure on this half of the label files: read disagreements from `study` only, keep a rule change "
                   "only when `check` does not get worse.")
def evaluate(labels_dir, db_path, as_json, criteria, report, split):
    """Compare the stored judgements with expert labels, level by level.

    The label files are split into two halves by model family: files that share an organisation, the owner of
    their end model or a file name are one family, and a family's half is read off a hash of its name, so the split
    is the same everywhere and a family is never on both sides. `--split study` measures on one half (read its
    disagreements to change rules), `--split check` on the other (a change stays only if it does not get worse).
    Every report also shows both halves side by side, and the reliability of our confidence on each.

    Compares each label file with its end model only (the end-model weights link, else the system link; never a
    base-model or other link) and reports, for all label sets together, each apart, the distinct cells and the 12
    current criteria: coverage, exact and within-one agreement (over decided cells, and strictly with `unknown` counted
    wrong), Cohen's kappa (plain and linearly weighted), each criterion's majority baseline, confusion matrices and
    every disagreement with our evidence beside the expert's link and note.
    """
    from crawler.evaluate import CRITERIA, evaluate as run_evaluation, markdown_report
    from crawler.files import write_text
    from crawler.store import open_db

    chosen = [c.strip() for c in criteria.split(",")] if criteria else None
    if chosen and (unknown := set(chosen) - set(CRITERIA)):
        raise click.BadParameter(f"unknown criteria: {', '.join(sorted(unknown))}; known: {', '.join(CRITERIA)}")
    require_store(db_path)
    result = run_evaluation(open_db(db_path), labels_dir, chosen, split)
    if report:
        write_text(report, markdown_report(result, str(labels_dir), str(db_path)))
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    from crawler import terminal

    terminal.echo_lines(terminal.evaluation_lines(result, terminal.width()))
    if report:
        console.print(f"report written to {report}")


@cli.command()
@click.option("--labels", "labels_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Directory of expert label YAML files (e.g. data/labels); only their study half is read.")
@db_option()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=output_path,
              help="Where to write the table (default: the rules' data/rules/calibration.yaml).")
def calibrate(labels_dir, db_path, out):
    """Measure how sure each rule is: write the calibration table that sets every judgement's confidence.

    For each criterion, level and deciding rule, the agreement with the experts on the study half of the label
    files (see `evaluate --split`), shrunk toward the criterion's agreement at that level, and that toward the
    criterion's, with a prior chosen by the Brier score on families of the study half held out in turn. Judge
    again afterwards (`openness assess`; the table is part of the rules, so every model is re-judged) and measure on
    the check half: `openness evaluate --split check`.
    """
    from crawler.calibrate import CALIBRATION_FILE, calibrate as measure, calibration_yaml
    from crawler.files import write_text
    from crawler.store import open_db

    require_store(db_path)
    try:
        table = measure(open_db(db_path), labels_dir)
    except ValueError as exc:
        raise click.ClickException(f"{db_path}: {exc}") from exc
    target = out or CALIBRATION_FILE
    write_text(target, calibration_yaml(table, str(labels_dir)))
    rules = sum(len(level["rules"]) for levels in table["decisions"].values() for level in levels.values())
    console.print(f"calibrated {rules} deciding rules on {table['decided_cells']} decided cells of the study half "
                  f"(agreement {100 * table['overall']:.1f}%; prior {table['prior_cells']} cells, chosen on held-out "
                  f"families): {target}")
    from crawler.terminal import runnable

    console.print("judge again to apply it:")
    click.echo("  " + runnable("assess", "--db", db_path))


@cli.command()
@db_option()
@json_option
@click.option("--kind", type=click.Choice(["open source", "open weights", "open", "licence tag only", "relicensed"]),
              help="Only flags whose claim is of this kind.")
@click.option("--severity", type=click.Choice(["high", "medium", "low"]), help="Only flags of this severity.")
def flags(db_path, as_json, kind, severity):
    """List openwashing flags, worst first: models whose own words claim openness while the criteria that claim
    promises are decided and not open. A claim has a kind: `open source` promises training code, data and an open
    licence; `open weights` and `open`, weights and a usable licence; `licence tag only`, the licence; `relicensed`,
    a derivative declaring a licence its base chain's licences do not allow (both licences and the chain shown).
    A block per flag: severity and model, its review status (not reviewed, confirmed, dismissed), the claim quoted
    with its kind and link, and every promised criterion with its level and first quote."""
    from crawler import terminal
    from crawler.report import flag_rows
    from crawler.store import open_db

    require_store(db_path)
    rows = flag_rows(open_db(db_path), kind, severity)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    terminal.echo_lines(terminal.flag_lines(rows, terminal.width()))


@cli.command()
@click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False, path_type=Path), default=SNAPSHOT_DIR,
              show_default="the bundled snapshot", help="Corpus directory the replica serves.")
@db_option("demo.db", creates=True, from_env=False)
@click.option("--replica-delay", default=0.0, show_default=True,
              help="Seconds the replica waits before each answer: slow the demo down to watch it or interrupt it.")
@click.option("-v", "--verbose", is_flag=True, help="Log every request (Scrapy INFO level).")
def demo(corpus_dir, db_path, replica_delay, verbose):
    """The main job, offline: start the replica over the bundled snapshot, crawl every model and GitHub repo in it
    (and what they link to), print the judgements table, the run's counts and the DB path, stop the replica.
    Interrupt it and run it again to complete it."""
    try:
        corpus = Corpus(corpus_dir)
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from exc
    ids = [repo.repo_id for repo in corpus.models.values()]
    github_repos = [repo.full_name for repo in corpus.github.values()]
    from crawler.demo import ReplicaDidNotStart, closing_lines, start_replica
    from crawler.run import CrawlOptions
    from crawler.store import check_store

    check_store(db_path)  # a store that cannot be one is refused before the replica starts
    try:
        proc, url = start_replica(corpus_dir, replica_delay)
    except ReplicaDidNotStart as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"replica serving {corpus_dir} at {url}; crawling {len(ids)} models and {len(github_repos)} "
                  f"GitHub repos into {db_path}")
    try:
        status = _run_crawl(db_path, CrawlOptions(url, url, model_ids=ids, github_repos=github_repos), verbose)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    if status == 2:
        sys.exit(status)  # refused or failed (the line above says why): no store to show
    snapshot = "the bundled snapshot" if corpus_dir == SNAPSHOT_DIR else f"the corpus {corpus_dir}"
    click.echo("\n".join(closing_lines(db_path, snapshot)))
    sys.exit(status)


@cli.command()
@db_option()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML outside the DB (see crawler/review/accounts.sample.yaml): `anonymous_read: true|false` "
                   "and `accounts: {user: HASH}`, written by `openness review-account add`. No config: anyone "
                   "reads, nobody writes.")
def review(db_path, host, port, config_path):
    """Open the store for analysts in the browser: the home page lists flagged models worst first, the review
    queue, what the last run changed and the league table; a model's page shows its 14 criteria with every
    evidence item linked to the public source at its revision; a flag's page takes a logged-in analyst's verdict
    (confirm, dismiss, needs evidence, level overrides) with a note. Verdicts live in `reviews`, which no crawl
    writes. Datasette's tables, SQL and JSON stay at /DB-NAME."""
    from crawler.review.server import PortInUse, ReviewConfigError, check_bind, read_config, serve
    from crawler.store import open_db

    require_store(db_path)
    try:
        config = read_config(config_path)
        check_bind(host, port)
    except (ReviewConfigError, PortInUse) as exc:
        raise click.ClickException(str(exc)) from exc
    open_db(db_path).close()  # migrated: the review's views and triggers exist
    reading = "anyone reads" if config["anonymous_read"] else "login to read"
    console.print(f"review of {db_path} at http://{host}:{port}/ ({reading}; {len(config['accounts'])} analyst "
                  f"accounts); Ctrl-C stops it", markup=False)
    sys.exit(serve(db_path, host, port, config))


@cli.group("review-account")
def review_account():
    """Analysts' accounts of the review (a YAML config, see crawler/review/accounts.sample.yaml)."""


@review_account.command("add")
@click.argument("name")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The review config to write (created when missing); pass it to `openness review --config`.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
def review_account_add(name, config_path, password_stdin):
    """Add the analyst NAME (or set a new password): asks twice for the password, hidden, and writes only its hash."""
    from crawler.review.accounts import AccountError, add_account

    password = (sys.stdin.readline().rstrip("\r\n") if password_stdin else
                click.prompt("password", hide_input=True, confirmation_prompt=True))
    try:
        outcome = add_account(config_path, name, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    from crawler.terminal import runnable

    console.print(f"{outcome} {name} in {config_path} (the password's hash only); review with:", markup=False)
    click.echo("  " + runnable("review", "--config", str(config_path)))

@cli.command()
@click.option("--corpus", "corpus_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              required=True, help="The full corpus to select from, e.g. ../shared/corpus.")
@click.option("--labels", "labels_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              required=True, help="Directory of expert label YAML files, e.g. ../shared/labels.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=SNAPSHOT_DIR,
              show_default="data/snapshot", help="Where to write the snapshot (replaced).")
@click.option("--also", multiple=True, metavar="MODEL_ID",
              help="Also keep this model (a labelled system whose label file has no Hub link); repeatable.")
def snapshot(corpus_dir, labels_dir, out, also):
    """Rebuild the bundled snapshot: the corpus folders of every labelled system, copied verbatim.

    The bundled one was built with: --also google/gemma-7b-it (the seed table's Gemma 7B instruct).
    """
    from crawler.snapshot import build

    try:
        counts = build(corpus_dir, labels_dir, out, tuple(also))
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"snapshot in {out}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))

