# Two entry points do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test accuracy bench clean system-packages

# Debian packages the tests start as real programs: redis-server (distributed mode), chromium (the review pages, driven
# by Playwright). Installed with apt when missing (as root, or through sudo).
DEBIAN_PACKAGES := redis-server chromium
system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  echo "installing Debian packages:$$missing"; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/openness demo

test: $(STAMP) system-packages
	$(BIN)/pytest

# Regenerates data/rules/calibration.yaml (confidence measured on the labels' study half) and docs/accuracy.md: the
# demo's crawl of the bundled snapshot measured against the bundled labels, judged again with the new calibration.
accuracy: $(STAMP)
	$(BIN)/openness demo --db demo.db
	$(BIN)/openness calibrate --labels data/labels --db demo.db
	$(BIN)/openness assess --db demo.db
	$(BIN)/openness evaluate --labels data/labels --db demo.db --report docs/accuracy.md

# Figures, not tests: the crawler against a synthetic Hub of 10k and 100k models, beside the naive client, and the
# budget model for the whole Hub (benchmarks/README.md, docs/performance.md). BENCH_ARGS=--quick for a smoke run.
# Then the whole Hub in tiers (benchmarks/tier0.py): tier 0 over 100k and 1M synthetic models, tier 1 on the most
# downloaded, and the budget model for the real Hub.
BENCH_ARGS ?= --sizes 10000 100000
TIER0_ARGS ?= --sizes 100000 1000000
bench: $(STAMP)
	$(BIN)/python benchmarks/crawl.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/tier0.py $(TIER0_ARGS)

clean:
	rm -rf $(VENV) demo.db demo.db-wal demo.db-shm
