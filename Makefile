# Two commands for a newcomer: `make demo` and `make test` (both set up .venv first).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-fast test-postgres lint bench

$(BIN)/kam: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev,postgres]'
	@touch $@

install: $(BIN)/kam

demo: install  ## load the sample accounts and open the console
	$(BIN)/kam demo

test: install  ## everything CI runs: lint, fast and slow tests, on the embedded defaults then PostgreSQL + Chroma server
	$(BIN)/ruff check .
	$(BIN)/pytest -m "slow or not slow" --durations=15
	$(MAKE) --no-print-directory test-postgres

test-postgres: install  ## the suite on PostgreSQL + a Chroma server, both started (and stopped) by .ci/services.sh
	VENV=$(abspath $(VENV)) .ci/services.sh $(BIN)/pytest -m "slow or not slow" --backend=postgres --durations=15

test-fast: install
	$(BIN)/pytest

bench: install  ## every benchmark (about 45 minutes on 2 cores); figures go to BENCHMARKS.md by hand
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/ask_eval.py
	$(BIN)/python bench/tiering.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/cases.py
	$(BIN)/python bench/rivals.py
	$(BIN)/python bench/kpis.py
	$(BIN)/python bench/slack_http.py
	$(BIN)/python bench/ask_latency.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/continuity.py
