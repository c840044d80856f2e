# The two commands: `make run` (the pipeline end to end on the bundled simulator) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help install run pipeline test test-fast lint format bench clean

UV_VERSION := 0.13.8
VENV := .venv
PY := $(VENV)/bin/python
UV := .tools/uv/bin/uv
INSTALLED := $(VENV)/.installed
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)
# Test files run in parallel processes, each with its own PostgreSQL and Airflow home; a file's
# tests stay in one process, so its module fixtures (built warehouses) are built once.
TEST_WORKERS ?= 2

help:
	@echo "make run        the pipeline end to end on the simulator's demo data (DATA=<folder> for your own)"
	@echo "make test       the whole test suite (TEST_WORKERS=2 processes; 0 runs it in one)"
	@echo "make pipeline   every DAG once, against AIRFLOW_CONN_* when set, else the local stack"
	@echo "make bench      benchmarks (SCALE=small|demo|large, ONLY=extract|marts)"
	@echo "make lint       ruff and sqlfluff"
	@echo "make clean      remove the environment, clusters and generated data"

install: $(INSTALLED)

$(UV):
	@command -v python3 >/dev/null || { echo "python3 (3.11 or 3.12) is required" >&2; exit 1; }
	python3 -m venv .tools/uv
	.tools/uv/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(INSTALLED): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

run: install
	$(PY) -m devtools.demo $(if $(DATA),--data "$(DATA)")

pipeline: install
	$(PY) -m devtools.pipeline $(if $(DATA),--data "$(DATA)")

test: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not integration"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/sqlfluff lint dbt_project/models dbt_project/tests

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) -m devtools.bench $(if $(SCALE),--scale $(SCALE)) $(if $(ONLY),--only $(ONLY))

clean:
	-$(PY) -m devtools.pgcluster remove .local/pg 2>/dev/null
	-$(PY) -m devtools.pgcluster remove .local/pg-test 2>/dev/null
	rm -rf .local .venv .tools
