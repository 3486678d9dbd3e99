# Carnet: `make demo` serves the dashboards on a demo town; `make test` runs the test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint format bench clean venv

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11+ introuvable ($(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/carnet demo

test: $(VENV)/.installed
	@bash tools/ensure_browser.sh
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# every benchmark on SQLite; those that take a server again on PostgreSQL when
# CARNET_TEST_DATABASE_URL is set (each creates and drops its own scratch database there)
PG_BENCH := benchmarks/bench_import.py benchmarks/bench_poll.py benchmarks/bench_poll_day.py \
	benchmarks/bench_contract.py \
	benchmarks/bench_rollups.py benchmarks/load.py

bench: $(VENV)/.installed
	@for b in benchmarks/bench_*.py benchmarks/load.py; do echo "== $$b (SQLite)"; \
		$(BIN)/python $$b --quick || exit 1; done
	@if [ -n "$$CARNET_TEST_DATABASE_URL" ]; then for b in $(PG_BENCH); do \
		echo "== $$b (PostgreSQL)"; \
		$(BIN)/python $$b --quick --database-url "$$CARNET_TEST_DATABASE_URL" || exit 1; done; fi

clean:
	rm -rf var .pytest_cache .ruff_cache
