# make demo: run the workflow on the embedded demo dataset.
# make test: format/lint gates and the test suite.
# Both create .venv (Python >= 3.11) with every dependency when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.harfuse-installed

.PHONY: demo test lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores all

lint: $(STAMP)
	$(BIN)/ruff check src tests workflow/scripts
	$(BIN)/ruff format --check src tests workflow/scripts
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

test: lint
	$(BIN)/pytest

clean:
	rm -rf results logs .snakemake
