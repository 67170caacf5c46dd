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

.PHONY: check-python setup setup-libreoffice setup-report demo test test-unit test-integration test-report report-picture bench-report dbt-test dev lint format docs contracts bench check-xlsx clean

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

setup: check-python $(BIN)/eduq

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
	$(BIN)/pytest -q -m "not report"

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

# ingest throughput against DuckDB's own read_csv of the same file (prints figures, not a test)
bench: setup
	$(BIN)/python bench/bench_ingest.py --rows 3000000 --xlsx-rows 200000 --repeat 3

# the report of the demo region (<= 10 s) and all its school cards (<= 60 s); prints the figures
bench-report: setup
	$(BIN)/python bench/bench_report.py

# Python with ruff (lint and format); the dbt models, tests and macros with SQLFluff (dbt_project/.sqlfluff)
lint: setup
	$(BIN)/ruff check core ingestion synthetic orchestration gate publishing tests bench
	$(BIN)/ruff format --check core ingestion synthetic orchestration gate publishing tests bench
	cd dbt_project && ../$(BIN)/sqlfluff lint models tests macros --processes 2 --disable-progress-bar

# apply ruff's formatting and SQLFluff's fixes (review the diff)
format: setup
	$(BIN)/ruff format core ingestion synthetic orchestration gate publishing tests bench
	cd dbt_project && ../$(BIN)/sqlfluff fix models tests macros --processes 2 --disable-progress-bar

# docs/contracts.md and the dbt sources (dbt_project/models/staging/_sources.yml) from the contract
# YAML files (ingestion/contracts/*.yaml); tests/unit/test_contract_docs.py fails when they are stale
contracts: setup
	$(BIN)/python -m ingestion.contract_docs

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
