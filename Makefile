# Two commands for a fresh machine:
#   make run   - the main job on embedded defaults (SQLite, mail into var/outbox)
#   make test  - the whole test suite (lint included)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint demo clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/rectify init
	$(BIN)/rectify serve

demo: $(BIN)/.installed
	$(BIN)/rectify demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest -n auto

clean:
	rm -rf $(VENV) var test-output
