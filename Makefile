# The two commands: `make run` (the whole suite, embedded defaults, demo data) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint install bench clean i18n

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The portal's Japanese catalogue, compiled from its .po (the .mo is committed too, for plain
# `pip install .`). `make i18n` pulls new texts out of the templates and code into the catalogue.
CATALOGUE := portal/i18n/ja/LC_MESSAGES/messages

$(CATALOGUE).mo: $(CATALOGUE).po | $(STAMP)
	$(VENV)/bin/pybabel compile -d portal/i18n -D messages

i18n: $(STAMP)
	$(VENV)/bin/pybabel extract -F portal/babel.cfg -k _ -k gettext --no-location --sort-output \
		-o portal/i18n/messages.pot .
	$(VENV)/bin/pybabel update -i portal/i18n/messages.pot -d portal/i18n -D messages --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d portal/i18n -D messages --statistics

install: $(STAMP) $(CATALOGUE).mo

run: $(STAMP) $(CATALOGUE).mo
	$(VENV)/bin/mamori run

# The code checks first (seconds), then the tests: a change that breaks the style or the types
# fails early. mypy checks the tree named in pyproject.toml's [tool.mypy] files.
lint: $(STAMP)
	$(VENV)/bin/ruff format --check --quiet .
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/mypy

test: $(STAMP) $(CATALOGUE).mo lint
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The quick loop while coding: the same checks, then every test that needs no real server
# (no spawned processes, PostgreSQL, Redis or browser), spread over the cores by pytest-xdist.
# `make test` stays the whole truth; CI runs that.
FAST_MARKERS := not system and not postgres and not redis and not browser
test-fast: $(STAMP) $(CATALOGUE).mo lint
	env -u MAMORI_TEST_POSTGRES_URL -u MAMORI_TEST_REDIS_URL \
		$(VENV)/bin/python -m pytest -n auto -q -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

bench: $(STAMP)
	for script in tests/bench/*.py; do $(VENV)/bin/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache
