# eis_pipeline: every target that needs the environment creates it first (.venv).
# On a fresh machine `make demo` and `make test` are all a user types.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install test test-all fuzz lint demo bench clean

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("eis_pipeline needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/eis-pipeline compile
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the package with test and dev tools

test: $(STAMP)  ## run the test suite (skips the slow marker; about 6 minutes on 2 cores)
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP)  ## every test, including the slow fuzzer at 200 circuits
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

FUZZ_EXAMPLES ?= 2000
FUZZ_MUTATIONS ?= 10000
FUZZ_SEED ?= 1
fuzz: $(STAMP)  ## fuzz the importers (FUZZ_MUTATIONS=10000 mutated files, 5 s limit each) and the fitter (FUZZ_EXAMPLES=2000)
	$(BIN)/python -m tests.fuzz --mutations $(FUZZ_MUTATIONS) --seed $(FUZZ_SEED) --timeout 5
	HYPOTHESIS_PROFILE=explore EIS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -m slow -p no:cacheprovider tests/fitting/test_fuzz_solvers.py

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check eis_pipeline tests bench scripts
	$(BIN)/mypy

DEMO_CONFIG  := configs/example.toml
DEMO_RESULTS := results/nacb11h12_milling.h5
DEMO_INPUTS  := $(DEMO_CONFIG) $(shell find sample_data -type f 2>/dev/null)
PACKAGE_SRC  := $(shell find eis_pipeline -name '*.py' 2>/dev/null)

# Rebuilt only when the config, a raw file or the code changed.
$(DEMO_RESULTS): $(STAMP) $(DEMO_INPUTS) $(PACKAGE_SRC)
	$(BIN)/eis-pipeline run $(DEMO_CONFIG) -o $@ --plots all

demo: $(DEMO_RESULTS)  ## run the demo campaign on sample_data/, check it against its ground truth, write its HTML report
	@$(BIN)/eis-pipeline inspect $(DEMO_RESULTS)
	@echo
	@$(BIN)/python scripts/check_demo.py $(DEMO_RESULTS) sample_data/ground_truth.json
	@$(BIN)/eis-pipeline report $(DEMO_RESULTS)

bench: $(STAMP)  ## benchmarks against impedance.py; writes bench/RESULTS.md
	$(BIN)/python -m bench

clean:  ## remove the virtual environment and caches (never sample_data or results)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
