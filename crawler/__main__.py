"""`python -m crawler` is the `openness` command (how the demo starts the replica as its own process)."""

from crawler.cli import cli

cli(prog_name="openness")
