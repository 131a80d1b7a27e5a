# Everything runs from a virtual environment built here from the pinned requirements.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINK := .build/collections/ansible_collections/onedrive/connection
# Most tests wait on ansible-playbook processes and the emulator, so two workers use two cores well.
PYTEST_WORKERS ?= 2
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections

.PHONY: help venv test test-matrix unit emulator-test integration sanity lint build demo emulator bench clean

help:
	@echo "make demo   - run the whole job against the local emulator (STORE=hashi_vault: in OpenBao)"
	@echo "make test   - every test: pytest (unit, emulator, integration), ansible-test sanity, ansible-lint"
	@echo "make test-matrix - unit and integration tests on every supported ansible-core (MATRIX_CELLS picks some)"
	@echo "make build  - build the collection tarball"
	@echo "make bench  - time rotating 10, 100 and 1,000 connections against a uri loop; writes BENCHMARKS.md"

$(STAMP): requirements.txt requirements-test.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-test.txt -c constraints.txt
	touch $@

$(LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../../.. $@

venv: $(STAMP) $(LINK)

test: venv
	tests/ci/browser.sh
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)
	VENV=$(CURDIR)/$(VENV) tests/ci/sanity.sh
	VENV=$(CURDIR)/$(VENV) tests/ci/lint.sh

# The ansible-core matrix (tests/ci/matrix.py says how each cell's Python is found, and lists the test files):
#   2.16 on Python 3.10  unit tests; integration tests that run every module, action plugin, lookup, role and
#                        playbook once, plus the role-variable, template-safety and role secrets tests; the modules'
#                        tests again with the modules on Python 3.8; ansible-test sanity
#   2.18 on Python 3.11  unit tests; integration tests that run every module, action plugin, lookup, role and playbook
#   2.19 on Python 3.11  everything, in .venv (the pinned default; make test runs it)
#   2.20 on Python 3.12  as 2.18
#   2.21 on Python 3.13  as 2.16, without Python 3.8
# Tests marked `tooling` (browser, ansible-runner, ansible-builder, metrics parser) run on the default cell only.
MATRIX_CELLS ?=
test-matrix: venv
	$(BIN)/python tests/ci/matrix.py $(MATRIX_CELLS)

unit: venv
	$(BIN)/python -m pytest tests/unit

emulator-test: venv
	$(BIN)/python -m pytest tests/emulator/tests

integration: venv
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) tests/integration

sanity: venv
	VENV=$(CURDIR)/$(VENV) tests/ci/sanity.sh

lint: venv
	VENV=$(CURDIR)/$(VENV) tests/ci/lint.sh

# STORE=hashi_vault keeps the connection in an OpenBao dev server the demo starts, instead of a vault file.
STORE ?= ansible_vault
demo: venv
	$(BIN)/python demo/run_demo.py --store $(STORE)

emulator: venv
	@echo "Serving on the URL written to .build/emulator/url (CA: .build/emulator/ca.pem); Ctrl-C stops it."
	PYTHONPATH=tests/emulator $(BIN)/python -m msemu --https --state-dir .build/emulator

bench: venv
	$(BIN)/python tests/bench/run.py

build: venv
	mkdir -p .build/dist
	$(BIN)/ansible-galaxy collection build --force --output-path .build/dist

clean:
	rm -rf $(VENV) .build tests/output .pytest_cache .hypothesis
