# One entry point for everything: `make serve` runs Mizual, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve install test test-faults lint format clean browser

serve: $(STAMP)
	$(BIN)/mizual serve

install: $(STAMP)

# tests/test_openapi.py generates a client with it. In a venv of its own: it caps typer
# (<0.28) below what Mizual's CLI is installed and tested with.
OPENAPI_CLIENT := openapi-python-client>=0.29,<0.30
OPENAPI_VENV := $(VENV)/openapi-client

# Reinstalls only when pyproject.toml (or this file) changes, so later runs start at once.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	test -x $(OPENAPI_VENV)/bin/python || $(BIN)/python -m venv $(OPENAPI_VENV)
	$(OPENAPI_VENV)/bin/python -m pip install --quiet '$(OPENAPI_CLIENT)'
	touch $(STAMP)

# Everything but the fault-injection and fuzzing suites, which `make test-faults` runs (CI runs
# both; plain `pytest` runs everything).
test: $(STAMP)
	$(BIN)/python -m pytest -m "not faults and not fuzz" $(PYTEST_ARGS)

# Workers and servers killed mid-edit, Redis hung or down, the broker down, and schemathesis
# fuzzing the API from its OpenAPI schema: about 3 minutes.
test-faults: $(STAMP)
	$(BIN)/python -m pytest -m "faults or fuzz" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

# The web page's browser test (tests/test_web_page.py) drives Debian's Chromium through Playwright;
# Playwright's own browser downloads are never used. Installs it, with the colour emoji font of
# the page's 👍/👎 buttons, when missing and apt-get is there (as root, or through sudo);
# elsewhere that test skips, and in CI (CI=true) it fails.
CHROMIUM := /usr/bin/chromium
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
browser:
	@if [ -x $(CHROMIUM) ] && [ -f $(EMOJI_FONT) ]; then \
	  echo "browser: $(CHROMIUM) is installed"; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null && \
	  echo "browser: installed $$($(CHROMIUM) --version 2>/dev/null)"; \
	else \
	  echo "browser: $(CHROMIUM) is missing and apt-get is not available; the browser test will skip"; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench
# Every benchmark (PostgreSQL/Redis started if down, moto S3, its own servers); appends a dated
# section to bench/RESULTS.md. About 7 minutes on 2 cores.
bench: $(STAMP)
	$(BIN)/python bench/run.py
