# The README's two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_DEV  := $(VENV)/.installed-dev
# the headless browser tests/integration/test_html_report.py renders reports in (Debian's)
BROWSER    := /usr/bin/chromium

.PHONY: demo test lint browser bench figures explorer-screenshot clean

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

test: lint browser
	$(BIN)/python -m pytest -q

# Debian's chromium, installed when absent (needs root and the Debian package registry)
browser:
	@test -x $(BROWSER) || { \
		echo "installing chromium (for the HTML report tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	} || { echo "make browser: could not install chromium; run as root: apt-get install chromium" >&2; exit 1; }
	@test -x $(BROWSER)

figures: $(STAMP_DEV)
	$(BIN)/python docs/make_figures.py

# docs/explorer.png: the explorer panel rendered offline by the widgets' html-manager (from
# npm, into build/) in headless chromium; not part of `make test`
explorer-screenshot: $(STAMP_DEV) browser
	$(BIN)/python docs/make_explorer_screenshot.py

bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) results build dist *.egg-info .pytest_cache .ruff_cache
