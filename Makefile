# Two commands on a fresh machine:  `make run` (the example host with the plugin, SQLite)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint wheel-check clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/flask --app examples.host_app demo init
	@echo "Sign in at http://$(HOST):$(PORT)/login ; SCIM API base URL: http://$(HOST):$(PORT)/scim/v2"
	$(BIN)/flask --app examples.host_app run --host $(HOST) --port $(PORT)

test: $(BIN)/.installed
	$(BIN)/python -m pytest

lint: $(BIN)/.installed  # ruff, then the layer contracts (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

wheel-check:
	bash scripts/check-wheel-migrations.sh

clean:
	rm -rf $(VENV) examples/instance .pytest_cache .ruff_cache

# Load benchmark of the SCIM API against a bare Flask ceiling app (gunicorn + wrk, SQLite and PostgreSQL).
# make bench                         quick run (5 s phases), both databases
# make bench BENCH_ARGS="--mode full --profile"
BENCH_ARGS ?= --mode quick
.PHONY: bench
bench: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq wrk; } \
		|| { echo "wrk is needed: apt-get install -y wrk"; exit 1; }
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# Bounded soak on PostgreSQL (gunicorn, 2 workers): mixed IdP traffic, 0 errors and flat worker RSS or exit 1.
# make soak                          10 minutes
# make soak SOAK_ARGS="--duration 60"
SOAK_ARGS ?= --duration 600
.PHONY: soak
soak: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m benchmarks.soak $(SOAK_ARGS)
