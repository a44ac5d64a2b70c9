# Two commands are all a fresh machine needs: `make up` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: up test test-spark install lint

up: $(STAMP)
	$(VENV)/bin/mpi up

test: $(STAMP)
	$(VENV)/bin/pytest -m "not slow and not spark" $(PYTEST_ARGS)

# The Spark path of the linker (PySpark + the machine's JVM; not part of `make test`).
test-spark: $(STAMP)
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[spark]"
	$(VENV)/bin/pytest -m spark $(PYTEST_ARGS)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy services training/src
	$(VENV)/bin/lint-imports

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[dev,data,linker,classifier,ml]"
	touch $@
