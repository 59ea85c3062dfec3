# One entry point for everything: `make serve` runs Mizual, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve install test lint format clean browser

serve: $(STAMP)
	$(BIN)/mizual serve

install: $(STAMP)

# Reinstalls only when pyproject.toml changes, so later runs start at once.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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
