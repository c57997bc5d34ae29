# Two commands do all the set-up on a fresh machine with Python 3.11, 3.12 or 3.13 and pip:
#   make run    # creates .venv, installs maskflow, runs `snakemake --cores 8 all` on config.yaml
#   make test   # creates .venv, installs maskflow + test tools + the SLURM plugin (and, as root, the system
#               # packages some tests use: chromium, slurm-wlm, munge), runs pytest
# The first of python3.11 / 3.12 / 3.13 / python3 inside pyproject.toml's requires-python; a pyenv
# shim for a version that is not active fails the check and is skipped. `make PYTHON=...` overrides.
PYTHON_IN_RANGE := import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 14)))
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	$$p -c '$(PYTHON_IN_RANGE)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
# As root the system packages can be installed, so `make test` must run the browser and SLURM
# tests: a failed install, or a skip of those tests, fails it (as CI=true does; .ci/run sets it).
# `make test REQUIRE_SYSTEM_TESTS=0` lets them skip; as another user they skip, saying why.
REQUIRE_SYSTEM_TESTS ?= $(shell [ "$$(id -u)" = 0 ] && echo 1 || echo 0)
export REQUIRE_SYSTEM_TESTS

.PHONY: run test lint bench clean system-deps ui

run: $(VENV)/.installed
	$(BIN)/snakemake --cores 8 all

test: $(VENV)/.installed-test system-deps
	$(BIN)/pytest -q

# Style of the whole tree: ruff (pyproject.toml's [tool.ruff]: 120 columns, imports sorted) on
# the Python code, Snakemake's linter and snakefmt on the workflow.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check workflow tests bench
	$(BIN)/ruff format --check workflow tests bench
	$(BIN)/snakemake --lint --cores 1
	$(BIN)/snakefmt --check Snakefile workflow/rules

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run_all.py

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || { $(PYTHON) -c '$(PYTHON_IN_RANGE)' 2>/dev/null || \
	  { echo "maskflow needs Python 3.11 to 3.13: none of python3.11, python3.12, python3.13, python3 is one" \
	    "(PYTHON='$(PYTHON)'); name one with make PYTHON=/path/to/python3.12" >&2; exit 1; }; \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

# The test tools and the SLURM executor plugin (the cluster tests use it), on top of the above.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# MLflow's UI on the run history (docs/history.md): installs the full mlflow of the pinned version
# (the `ui` extra) once, then serves the project's store on 127.0.0.1 until Ctrl-C.
UI_PORT ?= 5000
ui: $(VENV)/.installed-ui
	@echo "run history: http://127.0.0.1:$(UI_PORT)/#/experiments (open an experiment for its training runs)"
	MLFLOW_DISABLE_TELEMETRY=true $(BIN)/mlflow server --backend-store-uri sqlite:///mlflow.db \
	  --artifacts-destination ./mlartifacts --host 127.0.0.1 --port $(UI_PORT)

$(VENV)/.installed-ui: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[ui]'
	touch $@

# System packages for the browser and SLURM tests. Installed only when we may (root + apt);
# elsewhere those tests skip and say why, unless they are required (REQUIRE_SYSTEM_TESTS=1, CI=true).
system-deps:
	bash scripts/install-system-deps.sh

clean:
	rm -rf results .snakemake
