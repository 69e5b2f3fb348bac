# reviewflow — `make run` starts it, `make test` checks it. Only Python 3.11+ is needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: run test audit install install-run lint typecheck migrations-check pytest clean pdfjs

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
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory tests/oidc/node_modules/.installed; \
	else echo "npm not found: the single sign-on tests will skip (in CI they fail)"; fi
	$(BIN)/pytest

## Refresh the vendored pdf.js (npm's pdfjs-dist, version pinned in the script) in
## reviewflow/static/vendor/pdfjs/; needs npm.
pdfjs:
	$(BIN)/python scripts/vendor_pdfjs.py

## The OpenID Connect provider the single sign-on tests start (npm's oidc-provider, pinned
## in tests/oidc/package-lock.json).
tests/oidc/node_modules/.installed: tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
