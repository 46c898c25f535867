# Two commands for a newcomer: `make demo` and `make test` (both set up .venv first).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-fast lint bench

$(BIN)/kam: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev]'
	@touch $@

install: $(BIN)/kam

demo: install  ## load the sample accounts and open the console
	$(BIN)/kam demo

test: install  ## everything CI runs: lint, fast and slow tests
	$(BIN)/ruff check .
	$(BIN)/pytest -m "slow or not slow"

test-fast: install
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/ingest.py
