"""Every command explains itself and is documented in the README."""

from __future__ import annotations

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
