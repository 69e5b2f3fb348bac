# reviewflow — `make run` starts it, `make test` checks it. Only Python 3.11+ is needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: run test audit install install-run lint typecheck migrations-check pytest clean

# Two stamps: what running needs (requirements.txt), and on top of it the test, lint and
# type tools (requirements-dev.txt), so a first `make run` does not wait for them.
$(BIN)/.installed-run: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.installed: $(BIN)/.installed-run requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install-run: $(BIN)/.installed-run

install: $(BIN)/.installed

## Start reviewflow on this machine: web server and a Celery worker (Ctrl-C stops both).
run: install-run
	DEBUG=$${DEBUG:-1} $(BIN)/python scripts/run.py --port $(PORT)

## Known vulnerabilities in the pinned requirements (pip-audit); where the vulnerability
## service cannot be reached it says so in one line and does not fail.
audit: install
	$(BIN)/python scripts/audit.py

## Set up and run the whole suite: dependency audit, lint, types, migrations, tests.
test: install audit
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy reviewflow screening extraction
	$(BIN)/lint-imports --no-cache
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
