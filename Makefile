# tidegate developer commands. Everything runs through .venv/bin explicitly, so no activated
# virtualenv is needed and CI behaves exactly like a laptop.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tidegate-installed
# mypy only accepts paths that exist; packages appear as the team lands them.
LINT_PATHS := $(wildcard workflows activities plans alerts config cli store devstack drills bench runtime access console worker.py tests)

.PHONY: help setup venv run lint test test-browser browser-deps format docs bench clean distclean

help:
	@echo "make setup   create .venv, install tidegate[dev] if pyproject.toml changed, fetch Kafka"
	@echo "make run     start Temporal + Kafka + worker (Ctrl-C stops everything)"
	@echo "make lint    ruff check, ruff format --check, mypy --strict"
	@echo "make test    setup, lint, then pytest (all but the browser tests)"
	@echo "make test-browser  the console in a real Chromium (screenshots in build/browser/)"
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

setup: venv browser-deps
	@$(PY) -m devstack fetch

# The console names Noto Sans CJK in its CSS (Chinese renders without system CJK fonts), and
# its browser tests drive Debian's chromium: both come from Debian when missing (as root, or
# with password-less sudo; otherwise setup says what to install and goes on).
BROWSER_DEPS_CHECK := [ -x /usr/bin/chromium ] || missing=" chromium"; \
	[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing="$$missing fonts-noto-cjk"
browser-deps:
	@missing=""; $(BROWSER_DEPS_CHECK); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt="apt-get"; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then apt="sudo apt-get"; \
	  else echo "setup: the console wants$$missing: run 'sudo apt-get install$$missing'"; exit 0; fi; \
	  echo "setup: $$apt install$$missing"; \
	  $$apt update -qq && DEBIAN_FRONTEND=noninteractive $$apt install -y -qq \
	    --no-install-recommends $$missing </dev/null; \
	fi

run: setup
	$(PY) -m devstack run

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(LINT_PATHS)

test: setup lint
	$(VENV)/bin/pytest -m "not browser"

# The console in a real Chromium against the real stack (a few minutes); screenshots are left
# in build/browser/.
test-browser: setup
	$(VENV)/bin/pytest -m browser
	@echo "screenshots: build/browser/"

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

docs: venv
	$(PY) -m alerts.wire_docs

bench: setup
	$(PY) bench/dispatch.py
	$(PY) bench/console.py

clean:
	@if [ -x $(PY) ]; then $(PY) -m devstack down || true; fi
	rm -rf .tidegate .pytest_cache .mypy_cache .ruff_cache .hypothesis build
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Also drops the virtualenv and the cached Kafka jars (both are re-fetched by `make setup`).
distclean: clean
	rm -rf $(VENV) .cache
