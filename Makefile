# tidegate developer commands. Everything runs through .venv/bin explicitly, so no activated
# virtualenv is needed and CI behaves exactly like a laptop.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tidegate-installed
# mypy only accepts paths that exist; packages appear as the team lands them.
LINT_PATHS := $(wildcard workflows activities plans alerts config cli store devstack drills bench runtime access worker.py tests)

.PHONY: help setup venv run lint test format docs bench clean distclean

help:
	@echo "make setup   create .venv, install tidegate[dev] if pyproject.toml changed, fetch Kafka"
	@echo "make run     start Temporal + Kafka + worker (Ctrl-C stops everything)"
	@echo "make lint    ruff check, ruff format --check, mypy --strict"
	@echo "make test    setup, lint, then pytest"
	@echo "make format  ruff format and autofix"
	@echo "make docs    write the wire contracts' tables into docs/ (python -m alerts.wire_docs)"
	@echo "make bench   run the dispatch benchmark"
	@echo "make clean   stop background services, delete caches and .tidegate state"

$(PY):
	@echo "setup: creating $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)

# The stamp is newer than pyproject.toml exactly when the installed set matches it.
$(STAMP): pyproject.toml | $(PY)
	@echo "setup: installing tidegate[dev] into $(VENV) (pyproject.toml is newer than the last install)"
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(STAMP)

setup: venv
	@$(PY) -m devstack fetch

run: setup
	$(PY) -m devstack run

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(LINT_PATHS)

test: setup lint
	$(VENV)/bin/pytest

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

docs: venv
	$(PY) -m alerts.wire_docs

bench: setup
	$(PY) bench/dispatch.py

clean:
	@if [ -x $(PY) ]; then $(PY) -m devstack down || true; fi
	rm -rf .tidegate .pytest_cache .mypy_cache .ruff_cache .hypothesis build
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Also drops the virtualenv and the cached Kafka jars (both are re-fetched by `make setup`).
distclean: clean
	rm -rf $(VENV) .cache
