# wangge — `make run` serves the app, `make test` runs the whole suite.  Both install what is
# missing first (Debian packages, .venv, npm map assets); a second run skips what is there.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the embedded PostGIS, the map assets and the browser tests need
APT_PACKAGES := postgresql-15 postgresql-15-postgis-3 acl chromium
STAMP_PY := $(VENV)/.installed
STAMP_NPM := maps/static/node_modules/.installed
# axe-core for the browser tests' accessibility check (tests only: never served)
STAMP_AXE := tests/maps/axe/node_modules/.installed
PYTEST_ARGS ?=

.PHONY: help run test setup system-packages lint bench db-start db-stop clean

help:
	@echo "make run    install what is missing, start the embedded PostGIS, load the demo city, serve"
	@echo "make test   install what is missing, then run the whole test suite"
	@echo "make lint   ruff and mypy"
	@echo "make bench  benchmarks (print figures)"

run: setup
	$(BIN)/wangge up

test: setup $(STAMP_AXE)
	$(BIN)/pytest $(PYTEST_ARGS)

setup: system-packages $(STAMP_PY) $(STAMP_NPM)

system-packages:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP_PY): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "wangge needs Python >= 3.11 (set PYTHON=python3.11)"; exit 1; }
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

$(STAMP_NPM): maps/static/package.json maps/static/package-lock.json
	cd maps/static && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(STAMP_AXE): tests/maps/axe/package.json tests/maps/axe/package-lock.json
	cd tests/maps/axe && npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy bench

bench: setup
	$(BIN)/python bench/locate.py
	$(BIN)/python bench/auth_overhead.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/hotspot.py
	$(BIN)/python bench/workflow.py
	$(BIN)/python bench/import_cases.py
	$(BIN)/python bench/desk.py
	$(BIN)/python bench/maps.py
	$(BIN)/python bench/redraw.py
	$(BIN)/python bench/safety.py
	$(BIN)/python bench/rollup_update.py

db-start: setup
	$(BIN)/wangge db start

db-stop:
	$(BIN)/wangge db stop

clean:
	-$(BIN)/wangge db stop
	rm -rf $(VENV) maps/static/node_modules tests/maps/axe/node_modules
