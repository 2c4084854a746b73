# The commands the README and .ci/run use. Everything installs itself on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system-deps run test lint typecheck format bench bench-proxy bench-import bench-export clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (set PYTHON=...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[server,test]'
	touch $(STAMP)

system-deps:
	scripts/install-system-deps

run: install system-deps
	$(BIN)/bit serve

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

test: install system-deps lint typecheck
	$(BIN)/pytest -q

bench: install system-deps
	$(BIN)/python benchmarks/http_query.py

bench-proxy: install
	scripts/install-system-deps pgbouncer
	$(BIN)/python benchmarks/proxy.py

bench-import: install system-deps
	$(BIN)/python benchmarks/import.py

bench-export: install system-deps
	$(BIN)/python benchmarks/export.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .cache
