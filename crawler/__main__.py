"""`python -m crawler` is the `openness` command (how the demo starts the replica as its own process)."""

from crawler.cli import cli

if __name__ == "__main__":  # the judging processes of `assess --workers` import this module again: do not run there
    cli(prog_name="openness")
