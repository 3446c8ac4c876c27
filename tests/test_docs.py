"""Every command explains itself and is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import run_openness
from crawler.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(cli.commands)


def test_readme_opens_with_the_two_setup_commands():
    first_block = README.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_and_is_in_the_readme(name):
    command = cli.commands[name]
    assert command.help and len(command.help.split()) >= 8, f"`openness {name}` needs a help text"
    assert f"openness {name}" in README, f"`openness {name}` is not documented in README.md"
    for param in command.params:
        if param.param_type_name == "option":
            assert param.help, f"`openness {name} {param.opts[0]}` has no help"
            assert param.opts[-1] in README or param.opts[0] in README, \
                f"`openness {name} {param.opts[0]}` is not in README.md"


def test_help_runs_for_every_command():
    assert "Openness evidence crawler" in run_openness("--help").stdout
    for name in COMMANDS:
        result = run_openness(name, "-h")
        assert result.returncode == 0 and "Usage:" in result.stdout


def readme_commands() -> list[list[str]]:
    """Every `openness` command line of the README's code blocks, as words after the program (`.venv/bin/openness`
    or `openness`), a cron line's included; comments and environment assignments dropped."""
    import shlex

    commands = []
    for block in README.split("```")[1::2]:
        for line in block.splitlines():
            if not re.search(r"(^|&& )(\.venv/bin/)?openness ", line):
                continue  # prose, a diagram, another program
            words = shlex.split(line, comments=True)
            starts = [i for i, w in enumerate(words) if w in ("openness", ".venv/bin/openness")]
            if starts:
                rest = words[starts[0] + 1:]
                commands.append(rest[:next((i for i, w in enumerate(rest) if w in ("&&", ">>", "|", "&")),
                                           len(rest))])
    return commands


def test_every_command_in_the_readme_s_code_blocks_is_one_the_cli_takes():
    import click

    checked = 0
    for words in readme_commands():
        command, path = cli, []
        while isinstance(command, click.Group) and words and not words[0].startswith("-"):
            path.append(words.pop(0))
            if path[-1] not in command.commands:
                raise AssertionError(f"`openness {' '.join(path)}` is no command")
            command = command.commands[path[-1]]
        options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"-h", "--help"}
        for word in words:
            name = word.split("=", 1)[0]
            if name.startswith("-") and name not in options:
                raise AssertionError(f"`openness {' '.join(path)}` takes no {name}")
        checked += 1
    assert checked >= 12


def test_the_quickstart_follows_the_setup_commands_and_covers_the_first_ten_minutes():
    after_setup = README.split("```", 2)[2]
    sections = after_setup.split("\n## ")
    assert sections[1].startswith("Quickstart: the first ten minutes")
    quickstart = sections[1]
    for step in ("make demo", ".venv/bin/openness show ", ".venv/bin/openness flags",
                 ".venv/bin/openness review-account add ", ".venv/bin/openness review --config ",
                 "export HF_TOKEN=", ".venv/bin/openness crawl ", "export OPENNESS_DB=",
                 "* * * cd /srv/openness && .venv/bin/openness crawl --incremental "):
        assert step in quickstart, step
    assert "https://huggingface.co" in quickstart


def test_the_rule_internals_live_in_docs_rules_md():
    rules = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text(encoding="utf-8")
    assert "(docs/rules.md)" in README
    for heading in ("# How the judges read the evidence", "## Licences", "## Openwashing flags"):
        assert heading in rules
    for internal in ("**Which model.**", "The licence judgement reads the texts", "`high`: an open-source claim"):
        assert internal not in README
    assert "**Which model.**" in rules and "The licence judgement reads the texts" in rules
