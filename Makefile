# Two entry points do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test accuracy clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/openness demo

test: $(STAMP)
	$(BIN)/pytest

# Regenerates docs/accuracy.md: the demo's crawl of the bundled snapshot measured against the bundled labels.
accuracy: $(STAMP)
	$(BIN)/openness demo --db demo.db
	$(BIN)/openness evaluate --labels data/labels --db demo.db --report docs/accuracy.md

clean:
	rm -rf $(VENV) demo.db demo.db-wal demo.db-shm
