# The two set-up commands: `make demo` (everything, then the system with demo data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint clean schema schema-release

install: $(VENV)/.installed gateway/node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

gateway/node_modules/.installed: gateway/package.json gateway/package-lock.json
	cd gateway && npm ci --no-audit --no-fund --loglevel=error
	touch $@

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

test: lint
	cd gateway && node --test test/
	$(BIN)/pytest

clean:
	rm -rf $(VENV) gateway/node_modules .hotline
