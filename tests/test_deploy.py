"""The scheduling recipes in deploy/: each parses, and the command it runs exists and takes those options."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
import sys

import yaml

from conftest import ROOT
from crawler.cli import cli

DEPLOY = ROOT / "deploy"
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def assert_openness_command(command: str) -> None:
    """`.../openness SUBCOMMAND args`: the subcommand exists and click accepts every option and argument."""
    words = shlex.split(command)
    start = next(i for i, w in enumerate(words) if w.endswith("openness"))
    name, args = words[start + 1], words[start + 2:]
    args = [a for a in args if a not in (">>", "2>&1") and not a.startswith("/var/log")]
    assert name in cli.commands, f"openness {name} does not exist"
    context = cli.commands[name].make_context(name, args)  # raises on an unknown option or a bad value
    assert context.params


def test_crontab_line_is_valid_and_runs_the_nightly_crawl():
    lines = [l for l in (DEPLOY / "cron" / "openness.crontab").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    jobs = [l for l in lines if not re.match(r"^[A-Z_]+=", l)]
    assert len(jobs) == 1
    fields = jobs[0].split(None, 5)
    for value, (low, high) in zip(fields[:5], CRON_RANGES):
        assert CRON_FIELD.match(value), value
        assert all(low <= int(n) <= high for n in re.findall(r"\d+", value.split("/")[0]))
    command = fields[5].split("&&", 1)[1]
    assert "--incremental" in command
    assert_openness_command(command)


def test_systemd_service_and_timer_are_valid_units():
    service, timer = configparser.ConfigParser(strict=True), configparser.ConfigParser(strict=True)
    service.optionxform = timer.optionxform = str
    service.read(DEPLOY / "systemd" / "openness-nightly.service")
    timer.read(DEPLOY / "systemd" / "openness-nightly.timer")
    assert service["Service"]["Type"] == "oneshot" and "1" in service["Service"]["SuccessExitStatus"].split()
    assert_openness_command(service["Service"]["ExecStart"])
    assert re.fullmatch(r"\*-\*-\* \d\d:\d\d:\d\d", timer["Timer"]["OnCalendar"])
    assert timer["Timer"]["Unit"] == "openness-nightly.service" and timer["Install"]["WantedBy"] == "timers.target"


def test_github_actions_workflow_schedules_and_dispatches_the_crawl_keeping_the_db():
    workflow = yaml.safe_load((DEPLOY / "github-actions" / "nightly.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "workflow_dispatch" in triggers
    (schedule,) = triggers["schedule"]
    assert len(schedule["cron"].split()) == 5
    steps = workflow["jobs"]["crawl"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/cache/restore") for u in uses) and any(u.startswith("actions/cache/save")
                                                                             for u in uses)
    run = next(s["run"] for s in steps if "openness crawl" in s.get("run", ""))
    line = next(l for l in run.splitlines() if "openness crawl" in l)
    for mode in ("--incremental", "--discover --full"):  # both values of $mode
        assert_openness_command(line.replace("$mode", mode))


def test_scrapyd_runs_our_spiders_with_the_distributed_settings():
    config = configparser.ConfigParser()
    config.read(DEPLOY / "scrapyd" / "scrapyd.conf")
    module = config["settings"]["openness"]
    env = {**os.environ, "OPENNESS_REDIS_URL": "redis://127.0.0.1:9/0", "SCRAPY_SETTINGS_MODULE": module}
    listed = subprocess.run([sys.executable, "-m", "scrapy", "list"], capture_output=True, text=True, env=env,
                            cwd=ROOT / "deploy", timeout=120)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert listed.stdout.split() == ["github", "huggingface"]
    settings = subprocess.run([sys.executable, "-m", "scrapy", "settings", "--get", "SCHEDULER"],
                              capture_output=True, text=True, env=env, cwd=ROOT / "deploy", timeout=120)
    assert settings.stdout.strip() == "scrapy_redis.scheduler.Scheduler"
    without = subprocess.run([sys.executable, "-m", "scrapy", "list"], capture_output=True, text=True,
                             env={k: v for k, v in env.items() if k != "OPENNESS_REDIS_URL"}, cwd=ROOT / "deploy",
                             timeout=120)
    assert without.returncode != 0 and "set OPENNESS_REDIS_URL" in without.stderr


def test_the_documented_scrapyd_arguments_are_what_the_spiders_take():
    from spiders.github import GithubSpider
    from spiders.huggingface import HuggingFaceSpider

    readme = (DEPLOY / "README.md").read_text()
    hub_call = re.search(r"spider=huggingface \\\n\s+(.*)", readme).group(1)
    arguments = dict(part.split("=", 1) for part in re.findall(r"-d (\S+)", hub_call))
    parsed = HuggingFaceSpider.parse_arguments(dict(arguments))
    assert parsed["model_ids"] == ["meta-llama/Meta-Llama-3-8B", "Qwen/Qwen2.5-32B"] and parsed["max_depth"] == 2
    nightly = HuggingFaceSpider.parse_arguments({"incremental": "true", "discover": '{"author": "google"}'})
    assert nightly["follow_unchanged"] is False and nightly["discover"] == {"author": "google", "sort": "lastModified"}
    assert GithubSpider.parse_arguments({"repos": "a/b, c/d"})["repos"] == [("a/b", 30), ("c/d", 30)]
