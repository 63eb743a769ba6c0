# musicsite: `make run` starts the site, `make test` runs every test. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := run
VENV := .venv
# Extra pytest arguments: make test PYTEST_ARGS="-k infra -x"
PYTEST_ARGS ?=

.PHONY: setup run test test-fast lint format architecture prod services-start services-stop clean

## setup: install missing system packages and the Python virtualenv (fast when done)
setup:
	@scripts/setup.sh

## run: set up, migrate, bootstrap, start two Celery workers and the dev server on :8000
run: setup
	@scripts/run.sh

## test: set up, start throwaway PostgreSQL + Redis, run every test (two at a time), stop them
test: setup
	@scripts/test.sh $(PYTEST_ARGS)

## test-fast: the library's tests (no server) and the site's unit tests (PostgreSQL and
## Redis, but no worker, browser, model training or corpus import), two at a time
test-fast: setup
	@TEST_FAST=1 scripts/test.sh

## lint: ruff check, ruff format --check and the import contracts (lint-imports)
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

## format: apply ruff's fixes and formatting
format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## architecture: redraw the layers picture in docs/architecture.md from the import graph
architecture: setup
	$(VENV)/bin/python scripts/architecture.py

## prod: production profile (gunicorn + separate Celery workers); ROLE=all|web|train|sample|default|beat
prod: setup
	@scripts/prod.sh $(ROLE)

services-start:
	@scripts/services.sh start
	@scripts/services.sh env

services-stop:
	@scripts/services.sh stop

## clean: remove generated files (keeps .venv, var/ data and media)
clean:
	rm -rf staticfiles test-artifacts .pytest_cache .ruff_cache
	scripts/services.sh clean
