# The README's two commands are `make run` and `make test`; everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck layers check browser node sdk-test bench demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/embed-oauth serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

check: lint typecheck layers

# The browser test drives Debian's Chromium. Install it where this machine allows (root with
# apt-get); elsewhere the test is skipped and pytest's summary says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser test..."; \
	    apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    echo "Chromium could not be installed: the browser test will be skipped."; \
	  else \
	    echo "No Chromium and no way to install it here: the browser test will be skipped."; \
	  fi; }

# The SDK's tests (sdk/js) need Node.js and npm: installed from Debian's packages where this
# machine allows, as for Chromium.
node:
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's nodejs and npm for the SDK's tests..."; \
	    apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null 2>&1; \
	  fi; \
	  command -v npm >/dev/null 2>&1 || { echo "The SDK's tests need Node.js 18+ and npm."; exit 1; }; }

sdk/js/node_modules/.installed: sdk/js/package-lock.json | node
	cd sdk/js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

sdk-test: sdk/js/node_modules/.installed
	cd sdk/js && npm test --silent

test: check browser sdk-test
	$(BIN)/pytest

# After `make run` (in another terminal): a development OAuth provider, set up in the same
# database, and a demo link with everything filled in.
demo: $(STAMP)
	$(BIN)/embed-oauth dev-provider

# The performance benchmark (docs/performance.md): about 15 minutes on a 2-core machine.
bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis sdk/js/node_modules
