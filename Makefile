# eduq — two commands do everything on a fresh machine:
#   make demo   set up, generate the demo region, run the whole pipeline, publish
#   make test   set up, run pytest (unit + integration) and the dbt tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EDUQ_HOME ?= $(CURDIR)/.eduq
export EDUQ_HOME
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := False
export DAGSTER_HOME ?= $(EDUQ_HOME)/dagster

.PHONY: setup setup-libreoffice setup-bench demo test test-unit test-integration dbt-test dev lint format docs bench bench-ingest check-xlsx clean

$(BIN)/eduq: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/eduq

setup: $(BIN)/eduq

demo: setup
	@if [ -n "$$(ls -A $(EDUQ_HOME)/landing 2>/dev/null)" ] || [ -e $(EDUQ_HOME)/warehouse/candidate.duckdb ]; then \
		echo "Demo region already loaded in $(EDUQ_HOME) (make clean to start over)"; \
	else \
		$(BIN)/eduq generate --seed 42 --schools 335 --years 2021-2024; \
	fi
	$(BIN)/eduq run

# pytest runs the unit tests, the dbt unit tests (tests/dbt) and the integration tests,
# which materialise every asset through Dagster with the dbt data tests as checks
test: setup
	$(BIN)/pytest -q

test-unit: setup
	$(BIN)/pytest -q tests/unit

test-integration: setup
	$(BIN)/pytest -q tests/integration

dbt-test: setup
	$(BIN)/pytest -q tests/dbt

dev: setup
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/python -c "from ingestion.settings import load_settings; from orchestration.instance import prepare_dagster_home; prepare_dagster_home(load_settings())"
	$(BIN)/dagster dev -w workspace.yaml

# LibreOffice Calc + pdftotext (Debian packages) for the test that the published XLSX opens;
# without them that one test is skipped (CI installs them: .ci/run)
setup-libreoffice:
	scripts/install_libreoffice.sh

check-xlsx:
	scripts/check_xlsx.sh

# issue 10's comparison at a size (BENCH_SIZE=region|10|country; BENCH_ROUNDS, BENCH_SEED,
# BENCH_YEARS default 2023-2024): generate (cached), then, interleaved over rounds, the floor (bench/floor.sql),
# the pandas script and eduq run (fresh, then again with nothing new); checks the baselines
# against the warehouse before timing; writes bench/results/, docs/performance.md and .png
BENCH_SIZE ?= region
export BENCH_ROUNDS BENCH_SEED BENCH_YEARS
bench: setup-bench
	$(BIN)/python bench/run_bench.py --size $(BENCH_SIZE)

# matplotlib for the benchmark's plot (eduq itself does not need it)
setup-bench: setup
	@$(BIN)/python -c "import matplotlib" 2>/dev/null || $(BIN)/pip install --quiet -e '.[bench]'

# ingest throughput against DuckDB's own read_csv of the same file (prints figures, not a test)
bench-ingest: setup
	$(BIN)/python bench/bench_ingest.py --rows 3000000 --xlsx-rows 200000 --repeat 3

# Python with ruff (lint and format); the dbt models, tests and macros with SQLFluff (dbt_project/.sqlfluff)
lint: setup
	$(BIN)/ruff check core ingestion synthetic orchestration gate publishing tests bench
	$(BIN)/ruff format --check core ingestion synthetic orchestration gate publishing tests bench
	cd dbt_project && ../$(BIN)/sqlfluff lint models tests macros --processes 2 --disable-progress-bar

# apply ruff's formatting and SQLFluff's fixes (review the diff)
format: setup
	$(BIN)/ruff format core ingestion synthetic orchestration gate publishing tests bench
	cd dbt_project && ../$(BIN)/sqlfluff fix models tests macros --processes 2 --disable-progress-bar

# dbt docs with the catalog of the serving warehouse, read from a copy: dbt opens its database
# read-write, and the serving file must stay untouched for analysts and the audit
docs: setup
	@test -f $(EDUQ_HOME)/warehouse/serving.duckdb || { echo "No serving warehouse: run make demo first"; exit 1; }
	mkdir -p $(EDUQ_HOME)/docs
	cp $(EDUQ_HOME)/warehouse/serving.duckdb $(EDUQ_HOME)/docs/serving.duckdb
	cd dbt_project && EDUQ_DBT_DB_PATH=$(EDUQ_HOME)/docs/serving.duckdb ../$(BIN)/dbt docs generate --profiles-dir .
	rm -f $(EDUQ_HOME)/docs/serving.duckdb $(EDUQ_HOME)/docs/serving.duckdb.wal
	@echo "dbt docs: dbt_project/target/index.html (to browse: cd dbt_project && ../$(BIN)/dbt docs serve --profiles-dir .)"

clean:
	rm -rf $(EDUQ_HOME) dbt_project/target
