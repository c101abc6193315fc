# DynamoDB Streams Lab. `make lab` to learn, `make test` to check everything. `make help` lists all.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The newest Python 3.11+ on PATH (override: make lab PYTHON=/path/to/python3.12).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.labkit-installed
# The [workshop] extra (JupyterHub): installed by the targets that need it.
WORKSHOP_STAMP := $(VENV)/.labkit-workshop-installed
# JupyterLab's port; empty means the first free one from 8888.
JUPYTER_PORT ?=

.PHONY: help setup lab reset lint test test-labkit test-notebooks test-browser screenshots soak mutants doctor bench notebooks clean \
	workshop workshop-stop grades test-workshop

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
		echo "labkit: no Python 3.11+ found on PATH. Fix: install Python 3.11 or newer, or run 'make $(MAKECMDGOALS) PYTHON=/path/to/python3.11'." >&2; exit 1; fi
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || { \
		echo "labkit: $(PYTHON) has no venv module. Fix: install it (Debian/Ubuntu: apt-get install python3-venv)." >&2; exit 1; }
	@echo "labkit: creating $(VENV) with $(PYTHON) and installing the project (first run only) ..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv, install labkit, and make sure Java 17+ and DynamoDB Local are present
	@$(BIN)/python -m labkit install

lab: setup ## Open JupyterLab on your workspace's contents page (new lessons copied in, answers kept; Ctrl-C once stops it)
	@$(BIN)/python -m labkit lab $(if $(JUPYTER_PORT),--port $(JUPYTER_PORT),)

reset: $(STAMP) ## Start one lesson again: make reset LESSON=05 (your copy goes to workspace/backups/)
	@$(BIN)/python -m labkit reset "$(LESSON)"

lint: setup ## Check formatting and lint with ruff (settings in pyproject.toml)
	@$(BIN)/python -m ruff format --check .
	@$(BIN)/python -m ruff check .

test: setup test-labkit test-notebooks ## Run labkit's tests, then re-execute every notebook under nbval

test-labkit: setup ## Run labkit's own tests (a real DynamoDB Local; cfn-lint on every generated template)
	@$(BIN)/python -m pytest tests --ignore=tests/browser --ignore=tests/workshop

test-notebooks: setup ## Re-execute every notebook and compare its outputs (nbval)
	@$(BIN)/python -m pytest --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider \
		--ignore=notebooks/learner notebooks
	@# Learner copies have no stored outputs: they must run with no error (exercise stubs included).
	@$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks/learner

test-browser: setup ## Run every learner notebook in JupyterLab in headless Chromium, as a learner does
	@bash tests/browser/install.sh $(BIN)/python
	@$(BIN)/python -m pytest -p no:cacheprovider tests/browser

screenshots: setup ## Refresh the README's pictures (docs/screenshots/) from the browser suite
	@bash tests/browser/install.sh $(BIN)/python
	@LABKIT_README_SCREENSHOTS=1 $(BIN)/python -m pytest -p no:cacheprovider tests/browser -k "01-"

soak: setup ## Run the long reliability tests (5,000 writes with 20 SIGKILLs, then with chaos; about two minutes)
	@LABKIT_SOAK_KILLS=$${LABKIT_SOAK_KILLS:-20} $(BIN)/python -m pytest -m soak tests/reliability

mutants: setup ## Run the mutation probe of the engine (not part of make test)
	@$(BIN)/python tests/mutation/run_mutants.py

doctor: setup ## Check Python, Java, DynamoDB Local, the endpoint and the packages
	@$(BIN)/python -m labkit doctor

bench: setup $(WORKSHOP_STAMP) ## Run every benchmark in bench/ (not part of make test); results in bench/results/
	@$(BIN)/python bench/run_all.py

notebooks: setup ## Regenerate lesson navigation, the contents page and the learner copies
	@$(BIN)/python -m labkit notebooks

# A class on one server (README "Running a workshop"): make workshop USERS=30 [PORT=8000 MEMORY=1g]
USERS ?= 10
$(WORKSHOP_STAMP): $(STAMP) pyproject.toml
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,workshop]'
	@touch $(WORKSHOP_STAMP)

workshop: setup $(WORKSHOP_STAMP) ## Run JupyterHub for a class: make workshop USERS=30 (127.0.0.1; Ctrl-C stops all)
	@$(BIN)/python -m labkit.workshop start --users $(USERS) $(if $(PORT),--port $(PORT),) \
		$(if $(MEMORY),--memory $(MEMORY),) $(if $(JAVA_HEAP),--java-heap $(JAVA_HEAP),)

workshop-stop: ## Stop the running workshop (the hub, every learner's server and DynamoDB Local)
	@$(BIN)/python -m labkit.workshop stop

grades: ## Print every learner's grades as CSV: make grades > grades.csv
	@$(BIN)/python -m labkit.workshop grades

test-workshop: setup $(WORKSHOP_STAMP) ## Log two learners in through the hub in Chromium, each runs lesson 01 (~3 min)
	@bash tests/browser/install.sh $(BIN)/python
	@$(BIN)/python -m pytest -p no:cacheprovider tests/workshop

clean: ## Remove .venv and the download cache (.cache)
	rm -rf $(VENV) .cache
