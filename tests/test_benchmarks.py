"""The benchmark scripts run and print every figure they promise (their sizes are smoke sizes here; the figures
themselves are not asserted: they are measurements, in docs/performance.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import ROOT


def test_the_crawl_benchmark_prints_each_figure_at_its_quick_size():
    result = subprocess.run([sys.executable, "benchmarks/crawl.py", "--quick"], cwd=ROOT, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for name in ("full crawl", "incremental, 0% changed", "incremental, 1% changed", "assess, all judged again",
                 "assess, unchanged"):
        assert re.search(rf"{re.escape(name)} +[\d.]+ s +[\d.]+ models/s", out), name
    processes = sorted({1, os.cpu_count() or 1})  # the crawl judges in one process, then in one per core
    for workers in processes:
        naive = rf"vs the naive huggingface_hub loop.*judging in {workers} process.*: [\d.]+x"
        assert len(re.findall(naive, out)) == 2
        if workers > 1:
            assert re.search(rf"assess --force --workers {workers} +[\d.]+ s +[\d.]+ models/s", out)
    assert re.search(r"1 token\(s\) on 1 machine\(s\): first full crawl of 2M models [\d.]+ days", out)
    assert re.search(r"incremental, 0% changed .* repos changed: 0, models judged: \d+", out)


def test_the_tier0_benchmark_prints_each_figure_at_a_small_size():
    result = subprocess.run([sys.executable, "benchmarks/tier0.py", "--sizes", "300", "600", "--deep", "5"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for figure in ("models/s", "API calls per 1000 models", "peak RSS", "bytes per model", "peak RSS at",
                   "per deep model", "the whole listing (2,900,000 models)", "under the Hub token's budgets",
                   "the Hub's and the GitHub token's budgets", "the 100,000 most downloaded in"):
        assert figure in out, (figure, out)
    listed = [int(line.split()[0].replace(",", "")) for line in out.splitlines() if "models listed" in line]
    assert len(listed) == 2 and listed[0] < listed[1]  # each size crawled: the snapshot's models and N synthetic


def test_the_parse_floor_benchmark_prints_the_parse_time_and_the_rate_it_allows(demo_db):
    result = subprocess.run([sys.executable, "benchmarks/parse_floor.py", "--db", str(demo_db)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("markdown-it-py tokens", "blocks and links"):
        assert re.search(rf"{name} +\d+ texts: median [\d.]+ ms, mean [\d.]+ ms", result.stdout), name
    judged = re.search(r"judging (\d+) models in one process: [\d.]+ ms a model .* of which the parse [\d.]+ ms "
                       r"\((\d+) texts, [\d.]+ a model\): the parse alone allows at most \d+ models/s", result.stdout)
    assert judged and int(judged.group(1)) > 0 and int(judged.group(2)) > 0, result.stdout


def test_the_parse_floor_benchmark_names_a_missing_store(tmp_path):
    result = subprocess.run([sys.executable, "benchmarks/parse_floor.py", "--db", str(tmp_path / "none.db")],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "none.db" in result.stderr
