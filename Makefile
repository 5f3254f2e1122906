# The README's commands. Everything runs from a fresh clone with only Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := app:create_app

.PHONY: run test lint bench install install-test screenshots clean

$(BIN)/vigil: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-deps: $(BIN)/vigil
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/vigil
install-test: $(VENV)/.test-deps

run: install
	$(BIN)/vigil db upgrade
	$(BIN)/vigil compliance load
	$(BIN)/vigil seed-demo
	@echo "Vigil is at http://127.0.0.1:$(PORT)"
	$(BIN)/vigil run --host 127.0.0.1 --port $(PORT)

test: install-test
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .

bench: install-test
	$(BIN)/python bench/bench_requests.py $(BENCH_ARGS)

# The SOC pages with 200,000 alerts and 10,000 cases (about 15 minutes); figures in bench/README.md.
.PHONY: bench-soc
bench-soc: install-test
	$(BIN)/python bench/bench_soc.py $(BENCH_SOC_ARGS)

# PNGs of the main pages at 1280 and 390 px (needs Debian's chromium); SCREENSHOTS_DIR to change where.
SCREENSHOTS_DIR ?= test-artifacts/screenshots
screenshots: install-test
	$(BIN)/python scripts/screenshots.py $(SCREENSHOTS_DIR)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
