# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Every dependency's version, dev tools included, pinned from pyproject.toml's ranges (`make lock` renews it).
LOCK := requirements.lock
PYTEST_ARGS ?=
# axe-core for the accessibility tests, pinned in package.json / package-lock.json (npm ci)
NODE_STAMP := node_modules/.installed-stamp

.PHONY: run test lint format bench messages worker clean lock

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) pip
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) -e '.[dev]'
	touch $(STAMP)

## lock: pin the newest versions pyproject.toml allows into requirements.lock (commit it; the next make installs
## it); `make lock UPGRADE=` keeps the current pins and only adds or drops what pyproject.toml changed
UPGRADE ?= --upgrade
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) pip-tools
	$(BIN)/pip-compile --quiet $(UPGRADE) --extra dev --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --output-file $(LOCK) pyproject.toml

## run: install, migrate, load the demo data and serve http://127.0.0.1:8000 (SQLite, Celery in-process)
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the axe-core accessibility tests will skip (apt-get install npm)"; fi

## test: the whole suite (SQLite by default, PostgreSQL when DATABASE_URL is set)
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -n 2 --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/djlint templates --lint
	$(BIN)/python manage.py makemigrations --check --dry-run

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## messages: refresh the translation catalogues (needs GNU gettext)
messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l zh_Hant --no-obsolete --no-location
	$(BIN)/python manage.py compilemessages --ignore '.venv/*'

## bench: every benchmark to the end, each in its own process (assignment, allocation, pages and exports, reports, sacct import), then one table of measure, goal, figure, verdict
bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks

worker: $(STAMP)
	$(BIN)/celery -A portal worker --loglevel=INFO

clean:
	rm -rf $(VENV) var .pytest_cache .coverage
