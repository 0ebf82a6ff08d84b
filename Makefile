# The README's two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_DEV  := $(VENV)/.installed-dev

.PHONY: demo test lint bench figures clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_DEMO): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[parquet]"
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,parquet]"
	touch $@ $(STAMP_DEMO)

demo: $(STAMP_DEMO)
	$(BIN)/openbank-sim run ecommerce --out results/ecommerce

lint: $(STAMP_DEV)
	$(BIN)/ruff check openbank_sim tests benchmarks docs
	$(BIN)/ruff format --check openbank_sim tests benchmarks docs
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

figures: $(STAMP_DEV)
	$(BIN)/python docs/make_figures.py

bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) results build dist *.egg-info .pytest_cache .ruff_cache
