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

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests

wheel-check:
	bash scripts/check-wheel-migrations.sh

clean:
	rm -rf $(VENV) examples/instance .pytest_cache .ruff_cache
