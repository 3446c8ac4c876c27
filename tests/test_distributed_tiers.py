"""Issue 33, distributed mode: tier 0 (`--tier listing`) and tier 1 (`--tier deep`) across two crawler processes
with one writer (`openness ingest`), over a real redis-server and the loopback replica; and the imports between
crawler/ and spiders/ pointing one way."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from conftest import ROOT

# -- imports point one way: spiders/ -> crawler/ -------------------------------------------------------------------
# Checked in a fresh interpreter per module: the test process has imported everything already, so only a new one
# shows what importing a module alone pulls in, and whether it imports at all when it comes first (a circle fails
# in one of the orders). Not modulefinder: it also counts the imports inside functions, where crawler/ may start
# the spiders.
ALONE = ("crawler.ops.distributed", "crawler.known", "crawler.run", "crawler.cli", "spiders.base", "spiders.github",
         "spiders.huggingface")


def imported_alone(module: str) -> set[str]:
    """The modules of spiders/ and crawler/ in sys.modules after importing `module` alone in a new interpreter."""
    code = (f"import sys, {module}; print(' '.join(sorted(m for m in sys.modules "
            f"if m.split('.')[0] in ('spiders', 'crawler'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, f"{module} does not import alone: {result.stderr[-2000:]}"
    return set(result.stdout.split())


@pytest.mark.parametrize("module", ALONE)
def test_each_module_imports_alone(module):
    assert module in imported_alone(module)


def test_the_distributed_mode_imports_no_spider_at_import_time():
    loaded = imported_alone("crawler.ops.distributed")
    assert "crawler.known" in loaded
    assert not {m for m in loaded if m.split(".")[0] == "spiders"}


def test_only_the_module_that_starts_the_spiders_imports_them_at_module_level():
    importers = set()
    for path in sorted((ROOT / "crawler").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:  # module level only
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "spiders" for n in names):
                importers.add(path.relative_to(ROOT).as_posix())
    assert importers == {"crawler/run.py"}
