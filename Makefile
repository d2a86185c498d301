# The two set-up commands: `make demo` (everything, then the system with demo data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint clean schema schema-release portal chromium

install: $(VENV)/.installed gateway/node_modules/.installed portal

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

gateway/node_modules/.installed: gateway/package.json gateway/package-lock.json
	cd gateway && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The reference portal: its packages (npm ci), then the typed client generated from schema/ and the bundle
# (portal/dist), rebuilt when the portal, the schema or the trusted-documents manifest changed.
PORTAL_SOURCES := $(shell find portal/src portal/index.html portal/vite.config.ts portal/codegen.ts -type f -not -path 'portal/src/gql/*' 2>/dev/null) \
	schema/supergraph.graphql $(wildcard schema/operations/*.graphql) gateway/persisted-documents.json
portal: portal/dist/index.html

portal/node_modules/.installed: portal/package.json portal/package-lock.json
	cd portal && npm ci --no-audit --no-fund --loglevel=error
	touch $@

portal/dist/index.html: portal/node_modules/.installed $(PORTAL_SOURCES)
	cd portal && npm run build --silent
	touch $@

# The browser tests drive the system's Chromium (Debian's package), never a downloaded browser.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

demo: install
	$(BIN)/hotline up

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The schema contract from the code: schema/<service>.graphql, schema/supergraph.graphql and
# gateway/persisted-documents.json (no stack needed), then the breaking-change check against the release.
schema: install
	$(BIN)/hotline schema
	cd gateway && node breaking-changes.mjs

# At a release: the current supergraph becomes the baseline of the breaking-change check
# (schema/supergraph.released.graphql) and schema/breaking-changes.yaml starts empty.
schema-release: install
	$(BIN)/hotline schema --check
	cd gateway && node breaking-changes.mjs --release

test: lint chromium
	cd gateway && node --test test/
	$(BIN)/pytest

clean:
	rm -rf $(VENV) gateway/node_modules portal/node_modules portal/dist portal/src/gql .hotline
