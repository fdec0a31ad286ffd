# Two commands on a bare machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
TOOLS := .local/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
BENCH ?=
ARGS ?=

.PHONY: run test bench manage lint format setup clean-local

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --all-groups --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced

run: setup
	$(PY) -m config.devstack run

test: setup
	$(PY) -m config.devstack test

bench: setup
	$(PY) -m config.devstack bench $(BENCH)

# Any manage.py command, e.g. make manage ARGS="create_reseller --name ...": the same as
# .venv/bin/python manage.py ..., which finds the embedded PostgreSQL and Redis by itself.
manage: setup
	$(PY) manage.py $(ARGS)

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean-local:
	rm -rf .local
