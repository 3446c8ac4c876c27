"""Nightly operations: the per-DB lock, the run lifecycle and exit codes, the change history, distributed mode."""
