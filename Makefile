# The two commands in the README: `make up` (Airflow with the DAG, offline, embedded warehouse) and `make test`.
# Each creates .venv and installs everything it needs on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

AIRFLOW_ENV := AIRFLOW_HOME=$(CURDIR)/.state/airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__PARALLELISM=4

.PHONY: demo run dag up down test browser lint stop clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## The main job on embedded defaults: the shipped TSA page set into the embedded PostgreSQL.
demo: $(STAMP)
	$(BIN)/tsabot ingest --offline

## The same against tsa.gov.
run: $(STAMP)
	$(BIN)/tsabot ingest

## One run of the Airflow DAG, in-process, on the offline page set.
dag: $(STAMP)
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate
	$(AIRFLOW_ENV) $(BIN)/airflow dags test tsa_daily -c '{"offline": true}'

## The Airflow UI with the DAGs, one offline run triggered and reported; `make down` stops it all.
up: $(STAMP)
	$(BIN)/tsabot airflow up

down: $(STAMP)
	$(BIN)/tsabot airflow down

## The test suite: real PostgreSQL (127.0.0.1:5432, else embedded), real HTTP, dag.test().
## One pytest-xdist worker per core, slow tests first; the tests in one of tests/conftest.py's WORKER_GROUPS
## run in turn on one worker. The warehouse tests then run again on the embedded server, the fallback used
## where no Postgres runs.
test: $(STAMP) browser
	$(BIN)/lint-imports  # the import contracts in pyproject.toml: layers, no cycles
	$(BIN)/python -m pytest -n auto --dist loadgroup --no-loadscope-reorder --durations=15
	TSABOT_TEST_EMBEDDED_PG=1 $(BIN)/python -m pytest -q tests/test_warehouse_engine.py tests/test_warehouse_load.py \
		tests/test_warehouse_migrate.py

## Headless Chromium for the UI test, from Debian's packages (needs root and apt; else that test skips, saying why).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "warning: no chromium; the browser test of the UI page will be skipped"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Stop the embedded warehouse (its data stays in .state/).
stop: $(STAMP)
	$(BIN)/tsabot warehouse stop

clean:
	-$(BIN)/tsabot warehouse stop
	rm -rf $(VENV) .pytest_cache .ruff_cache
