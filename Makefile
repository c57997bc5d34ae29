# Two commands do all the set-up on a fresh machine with Python 3.11 and pip:
#   make run    # creates .venv, installs maskflow, runs `snakemake --cores 8 all` on config.yaml
#   make test   # creates .venv, installs maskflow + test tools (and, as root, the system
#               # packages some tests use: chromium, slurm-wlm, munge), runs pytest
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean system-deps

run: $(VENV)/.installed
	$(BIN)/snakemake --cores 8 all

test: $(VENV)/.installed system-deps
	$(BIN)/pytest -q

# Style of the whole tree: ruff (pyproject.toml's [tool.ruff]: 120 columns, imports sorted) on
# the Python code, Snakemake's linter and snakefmt on the workflow.
lint: $(VENV)/.installed
	$(BIN)/ruff check workflow tests bench
	$(BIN)/ruff format --check workflow tests bench
	$(BIN)/snakemake --lint --cores 1
	$(BIN)/snakefmt --check Snakefile workflow/rules

bench: $(VENV)/.installed
	$(BIN)/python bench/run_all.py

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# System packages for the browser and SLURM tests. Installed only when we may (root + apt);
# elsewhere those tests skip and say why.
system-deps:
	bash scripts/install-system-deps.sh

clean:
	rm -rf results .snakemake
