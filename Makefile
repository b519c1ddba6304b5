# The project's commands. `make run` starts the dashboard; `make test` runs every test.
# Both create .venv on first use and reinstall only when a requirements file changes.
# `make install-check` builds the wheel and uses it from outside the checkout (.ci/run runs it).

PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/python -m pip
PYTEST_ARGS ?=
# The suite runs in two pytest processes, a test file's tests together in one (its servers
# and fixtures are per file). TEST_JOBS=0 runs it in this process, one test at a time.
TEST_JOBS ?= 2
DASHBOARD_ARGS ?=

# Stamps are named after the requirements' content, so a changed pin (or a branch
# switch that rewrites the file's timestamp without changing it) installs only when needed.
RUN_HASH := $(shell cat requirements.txt | sha256sum | cut -c1-16)
DEV_HASH := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
RUN_STAMP := $(VENV)/.installed-run-$(RUN_HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(DEV_HASH)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install-check bench browser venv clean-venv

# The checkout's own `tuning dashboard` (e.g. DASHBOARD_ARGS="--port 8502 --db /tmp/t.db").
run: $(RUN_STAMP)
	$(VENV)/bin/python -m tuning dashboard $(DASHBOARD_ARGS)

# A fresh virtual environment in a temporary folder: needs python3 -m venv and PyPI (or pip's cache).
install-check:
	$(PYTHON) .ci/install_check.py

test: $(DEV_STAMP) browser
	$(VENV)/bin/python -m ruff check .
	$(VENV)/bin/python -m pytest -q -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

bench: $(DEV_STAMP)
	@set -e; for script in bench/*.py; do \
		[ -e "$$script" ] || { echo "no benchmarks under bench/"; break; }; \
		echo "== $$script"; \
		$(VENV)/bin/python "$$script"; \
	done

venv: $(VENV)/bin/python

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || { \
		echo "python3 -m venv failed; installing Debian's python3-venv"; \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y python3-venv && \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PIP) install --quiet --upgrade pip

$(RUN_STAMP): requirements.txt | $(VENV)/bin/python
	$(PIP) install -r requirements.txt
	rm -f $(VENV)/.installed-run-*
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) install -r requirements-dev.txt
	rm -f $(VENV)/.installed-dev-* $(VENV)/.installed-run-*
	touch $@ $(RUN_STAMP)

# Playwright cannot download its own browser here: browser tests drive Debian's chromium.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

clean-venv:
	rm -rf $(VENV)
