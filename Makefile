# Two commands do everything on a fresh machine with Python 3.11+:
#   make run   - set up .venv, migrate, seed the demo, print a token, serve on 127.0.0.1:8000
#   make test  - set up .venv with test tools and run the whole suite (DATABASE_URL picks the DB)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?= -n auto

.PHONY: run test lint serve clean conformance

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py seed_demo | $(BIN)/python scripts/demo_hint.py $(HOST) $(PORT)
	DJANGO_SETTINGS_MODULE=config.settings.local HOST=$(HOST) PORT=$(PORT) \
		$(BIN)/gunicorn -c config/gunicorn.conf.py

# The production server (gunicorn, settings from the environment; see docs/OPERATIONS.md).
serve: $(VENV)/.installed
	HOST=$(HOST) PORT=$(PORT) PYTHON=$(BIN)/python scripts/serve

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) data staticfiles .pytest_cache .ruff_cache

# Spec conformance with schemathesis against the production server (needs DATABASE_URL = PostgreSQL).
conformance: $(VENV)/.installed-test
	conformance/run
