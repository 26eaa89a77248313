# Two commands do everything on a fresh machine (only the package registries reachable):
#   make demo   - set up, then run the whole pipeline on generated data and print matches
#   make test   - set up, then run the default test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATMATCH_HOME ?= $(CURDIR)/.patmatch
PYTEST_ARGS ?= -m "not slow"

.PHONY: setup demo test test-all bench eval clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools

# torch first, pinned to the local CPU wheel: an unpinned torch pulls GBs of CUDA packages.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/patmatch demo --patents 20000 --demands 5000

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-all: setup
	$(BIN)/python -m pytest -m ""

bench: setup
	$(BIN)/patmatch bench

eval: setup
	$(BIN)/patmatch eval --all-tasks

clean:
	rm -rf $(VENV) .patmatch .pytest_cache
