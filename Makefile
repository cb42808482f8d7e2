# The two commands of the README, and the checks. `make help` lists them.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help setup run test check lint typecheck imports bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup:  ## create .venv, install Clade and the embedded model, start Docker, build the base image
	@bash scripts/setup.sh

run: setup  ## set up, then a short real self-improvement run on the embedded model
	$(BIN)/clade doctor
	$(BIN)/clade run examples/run.yaml

test: setup  ## set up, then run the checks and the whole test suite
	$(MAKE) --no-print-directory check
	$(BIN)/python -m pytest

check: lint typecheck imports  ## ruff, mypy and the import contracts

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	@bash scripts/typecheck.sh

imports:  ## who may import whom ([tool.importlinter] in pyproject.toml)
	$(BIN)/lint-imports --no-logo

bench:  ## run every benchmark under benchmarks/
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:  ## remove caches (keeps .venv and .clade)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache build *.egg-info
