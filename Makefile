# Every target sets itself up: a fresh clone with Python 3.11 and pip is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests examples
	$(BIN)/mypy --strict src examples/article

test: lint
	$(BIN)/pytest -q

demo: $(STAMP)
	$(BIN)/tradewire demo

serve: $(STAMP)
	$(BIN)/tradewire serve

clean:
	rm -rf $(VENV) tradewire-data .pytest_cache .mypy_cache .ruff_cache
