# The README's commands. Every target creates the venv first, so a fresh clone needs nothing else.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13: through pyenv when it is there (its shim needs PYENV_VERSION), else a plain python3.13 on PATH.
PYTHON ?= $(shell v=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$$' | tail -n 1); \
	{ [ -n "$$v" ] && PYENV_VERSION=$$v pyenv which python3.13 2>/dev/null; } || command -v python3.13)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# checkov (deploy-template checks) pins many packages of its own, so it gets a venv of its own.
INFRA_VENV := .venv-infra
INFRA_STAMP := $(INFRA_VENV)/.installed

.PHONY: help venv venv-infra test lint typecheck unit demo parity bench reliability clean

help:
	@echo "make demo   - run the whole offer flow on the local dev stack"
	@echo "make test   - create the venv, install, run ruff, mypy --strict and pytest"
	@echo "make bench  - run every benchmark (about 7 min on 2 cores) and rewrite BENCHMARKS.md"
	@echo "make reliability - fuzzing, fault matrix, disorder, 10,000-job load, secrets; rewrites RELIABILITY.md (~8 min)"
	@echo "make parity - replay Microsoft's live Job Router recordings against the emulator; writes docs/parity.md"

$(STAMP): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "python3.13 not found (install it, or set PYTHON=/path/to/python3.13)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

$(INFRA_STAMP): requirements-infra.txt
	@test -n "$(PYTHON)" || { echo "python3.13 not found (install it, or set PYTHON=/path/to/python3.13)"; exit 1; }
	@test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	@touch $@

venv-infra: $(INFRA_STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP) $(INFRA_STAMP)
	$(PY) -m pytest

test: lint typecheck unit

demo: $(STAMP)
	$(PY) -m devstack $(ARGS)

parity: $(STAMP)
	$(PY) -m devstack.parity $(ARGS)

bench: $(STAMP)
	$(PY) -m bench $(ARGS)

# The long runs too (-m overrides pyproject's "not slow"); the report is written even when a test fails.
reliability: $(STAMP)
	@results=$$(mktemp -d); status=0; \
	RELIABILITY_RESULTS=$$results $(PY) -m pytest tests/reliability -m "slow or not slow" || status=$$?; \
	$(PY) -m devstack.reliability_report $$results RELIABILITY.md; rm -rf $$results; exit $$status

clean:
	rm -rf $(VENV) $(INFRA_VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
