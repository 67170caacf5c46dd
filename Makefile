# eduq — two commands do everything on a fresh machine:
#   make demo   set up, generate the demo region, run the whole pipeline, publish
#   make test   set up, run pytest (unit + integration) and the dbt tests
SHELL := /bin/bash
PYTHON ?= python3
# the Python the project needs (pyproject.toml: requires-python = ">=3.11,<3.12")
PYTHON_NEEDED := 3.11
VENV := .venv
BIN := $(VENV)/bin
EDUQ_HOME ?= $(CURDIR)/.eduq
export EDUQ_HOME
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := False
export DAGSTER_HOME ?= $(EDUQ_HOME)/dagster

.PHONY: check-python setup setup-libreoffice setup-report demo test test-unit test-integration test-report report-picture bench-report dbt-test dev lint format docs docs-serve contracts bench bench-increment setup-bench bench-ingest bench-postgres check-xlsx clean postgres postgres-stop bi bi-serve bi-stop test-bi fuzz reliability

# first of all, the Python version (of .venv once it exists, else of $(PYTHON)), said in one line
PYTHON_CHECKED = $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))
PYTHON_HAS = $(shell $(PYTHON_CHECKED) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
check-python:
	$(if $(filter $(PYTHON_NEEDED),$(PYTHON_HAS)),@:,$(error eduq needs Python $(PYTHON_NEEDED) but $(PYTHON_CHECKED) is $(or $(PYTHON_HAS),not a working Python): install Python $(PYTHON_NEEDED) and point PYTHON= at it, e.g. make $(or $(MAKECMDGOALS),setup) PYTHON=python$(PYTHON_NEEDED) or PYTHON=/usr/local/bin/python$(PYTHON_NEEDED)$(if $(wildcard $(BIN)/python), (after rm -rf $(VENV): it was made with another Python))))

$(BIN)/eduq: pyproject.toml | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/eduq

# DuckDB 1.x beside the pipeline's 2.0: the test that BI tools' DuckDB reads the serving warehouse
.venv-duckdb1/bin/python: scripts/duckdb1_venv.sh
	scripts/duckdb1_venv.sh
	touch .venv-duckdb1/bin/python

setup: check-python $(BIN)/eduq .venv-duckdb1/bin/python

demo: setup
	@if [ -n "$$(ls -A $(EDUQ_HOME)/landing 2>/dev/null)" ] || [ -e $(EDUQ_HOME)/warehouse/candidate.duckdb ]; then \
		echo "Demo region already loaded in $(EDUQ_HOME) (make clean to start over)"; \
	else \
		$(BIN)/eduq generate --seed 42 --schools 335 --years 2021-2024; \
	fi
	$(BIN)/eduq run
	$(BIN)/eduq report

# pytest runs the unit tests, the dbt unit tests (tests/dbt) and the integration tests,
# which materialise every asset through Dagster with the dbt data tests as checks
# on two workers (pytest-xdist; tests/conftest.py keeps each module on one worker, longest first)
TEST_WORKERS ?= 2
test: setup
	$(BIN)/pytest -q -m "not report and not reliability" -n $(TEST_WORKERS)

# the regional report and the school cards end to end: headless Chromium opens the HTML report
# (screenshot not blank, every chart drawn), pdftotext reads the PDF, the seed-003 region
# reproduces the seed's tables; needs `make setup-report` (CI: .ci/run)
test-report: setup
	$(BIN)/pytest -q -m report tests/report

# page 1 of the demo region's report as docs/report-page1.png (the picture in the README)
report-picture: setup
	scripts/report_picture.sh

test-unit: setup
	$(BIN)/pytest -q tests/unit

test-integration: setup
	$(BIN)/pytest -q tests/integration

dbt-test: setup
	$(BIN)/pytest -q tests/dbt

dev: setup
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/python -c "from core.settings import load_settings; from orchestration.instance import prepare_dagster_home; prepare_dagster_home(load_settings())"
	$(BIN)/dagster dev -w workspace.yaml

# LibreOffice Calc + pdftotext (Debian packages) for the test that the published XLSX opens;
# without them that one test is skipped (CI installs them: .ci/run)
setup-libreoffice:
	scripts/install_libreoffice.sh

# Chromium, pdftotext/pdftoppm and the DejaVu fonts (Debian packages) for the report's tests and PDF
setup-report:
	scripts/install_report_tools.sh

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

# issue 10's later nights at a size (BENCH_SIZE=region|10|country; BENCH_MEMORY_LIMIT, e.g. 2GB, sets
# EDUQ_DUCKDB_MEMORY_LIMIT): on one home, a full build, a night with nothing new, one region's new
# results year and a one-school correction, each timed with its ratio to the full build and its
# result checked in the serving warehouse; writes bench/results/increment-<size>.json and
# docs/performance.md's increment section (bench/increment.py)
export BENCH_MEMORY_LIMIT
bench-increment: setup
	$(BIN)/python bench/increment.py --size $(BENCH_SIZE)

# matplotlib for the benchmark's plot (eduq itself does not need it)
setup-bench: setup
	@$(BIN)/python -c "import matplotlib" 2>/dev/null || $(BIN)/pip install --quiet -e '.[bench]'

# ingest throughput against DuckDB's own read_csv of the same file (prints figures, not a test)
bench-ingest: setup
	$(BIN)/python bench/bench_ingest.py --rows 3000000 --xlsx-rows 200000 --repeat 3

# the loader against 1,000 seeded mutations of valid landing files (encodings, delimiters, truncation,
# wrong types, giant fields, NUL bytes …), each in a worker with a timeout; prints the counts, exit 1 on
# any traceback, hang or lost row (bench/fuzz.py; ~50 cases run in make test)
fuzz: setup
	$(BIN)/python bench/fuzz.py --cases 1000 --seed 1

# fault campaigns with real processes (docs/reliability.md): kill -9 of eduq run at 30 seeded points
# and of 12 Dagster-launched runs of the jobs, with the invariants checked after each kill and the
# resumed result compared with a clean run; two eduq commands at once on one home; disk full (root) in
# the load, dbt, the promotion and the publication; readers of the dbt manifest during parses; a
# 30-night soak with readers (EDUQ_KILLS, EDUQ_KILL_SEED, EDUQ_KILL_STAGES, EDUQ_DAGSTER_KILLS,
# EDUQ_DAGSTER_KILL_SEED, EDUQ_SOAK_NIGHTS choose the campaigns); about an hour
reliability: setup
	$(BIN)/pytest -q -s -m reliability tests/reliability

# the report of the demo region (<= 10 s) and all its school cards (<= 60 s); prints the figures
bench-report: setup
	$(BIN)/python bench/bench_report.py

# Python with ruff (lint and format); the dbt models, tests and macros with SQLFluff (dbt_project/.sqlfluff)
lint: setup
	$(BIN)/ruff check core ingestion synthetic orchestration gate publishing tests bench bi
	$(BIN)/ruff format --check core ingestion synthetic orchestration gate publishing tests bench bi
	cd dbt_project && ../$(BIN)/sqlfluff lint models tests macros --processes 2 --disable-progress-bar

# apply ruff's formatting and SQLFluff's fixes (review the diff)
format: setup
	$(BIN)/ruff format core ingestion synthetic orchestration gate publishing tests bench bi
	cd dbt_project && ../$(BIN)/sqlfluff fix models tests macros --processes 2 --disable-progress-bar

# docs/contracts.md and the dbt sources (dbt_project/models/staging/_sources.yml) from the contract
# YAML files (ingestion/contracts/*.yaml); tests/unit/test_contract_docs.py fails when they are stale
contracts: setup
	$(BIN)/python -m ingestion.contract_docs

# dbt docs with the catalog of the serving warehouse (read from a copy: dbt opens its database
# read-write, and the serving file must stay untouched) in $(EDUQ_HOME)/docs/site; docs-serve also
# serves them on 127.0.0.1 (EDUQ_DOCS_PORT, default 8580)
docs: setup
	$(BIN)/eduq docs --no-serve

docs-serve: setup
	$(BIN)/eduq docs

# --- BI: the marts in PostgreSQL and Superset (docs/bi.md) ------------------------------------------
# the project's PostgreSQL cluster under $(EDUQ_HOME)/postgres on 127.0.0.1:$${EDUQ_PG_PORT:-5433}
# (installs PostgreSQL from the Debian packages where missing); a running cluster is where every
# audited build's marts are published
postgres:
	scripts/postgres.sh start

postgres-stop:
	scripts/postgres.sh stop

# Superset in its own virtual environment (.venv-superset), its metadata under $(EDUQ_HOME)/superset,
# the PostgreSQL marts (and the serving DuckDB file where its DuckDB 1.x reads it), the dashboard of
# bi/superset/assets/; publishes the current serving warehouse's marts first when there is one
bi: setup postgres
	scripts/superset.sh install
	@if [ -f $(EDUQ_HOME)/warehouse/serving.duckdb ]; then $(BIN)/eduq pg-publish || true; \
	else echo "No serving warehouse yet (make demo): the dashboard stays empty until a run publishes the marts"; fi
	scripts/superset.sh init

bi-serve:
	scripts/superset.sh serve

bi-stop:
	scripts/superset.sh stop

# servers and a browser: PostgreSQL, Superset, headless Chromium (Debian packages); run by .ci/run
# after make test
test-bi: setup
	scripts/install_chromium.sh
	scripts/superset.sh install
	$(BIN)/pip install --quiet -e '.[dev,bi-test]'
	$(BIN)/pytest -q tests/bi

# COPY of country-size marts into PostgreSQL (prints figures; needs make postgres or EDUQ_PG_URL)
bench-postgres: setup postgres
	$(BIN)/python bench/bench_postgres.py --schools 38000

clean:
	-scripts/superset.sh stop >/dev/null 2>&1
	-scripts/postgres.sh stop >/dev/null 2>&1
	rm -rf $(EDUQ_HOME) dbt_project/target
