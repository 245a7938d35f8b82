"""Shared fixtures: the stacks' own config, and in-process offline plans of modified configs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from components.config import NAMESPACE
from offline.run import PROJECT_DIR, Plan, plan_program, read_stack_config

# Real servers for the proofs: OpenBao (Vault API) and PostgreSQL, started once per session.
pytest_plugins = ["tests.fixtures.openbao", "tests.fixtures.postgres"]

CANARY = "canary-7f3a9c1e-DO-NOT-PRINT-b2d84e"


def stack_namespace(stack: str) -> dict[str, Any]:
    """The `secrets-platform:` keys of a committed stack file, decoded (keys without namespace)."""
    _, config, _ = read_stack_config(stack)
    prefix = f"{NAMESPACE}:"
    out = {}
    for key, value in config.items():
        if key.startswith(prefix):
            try:
                out[key[len(prefix):]] = json.loads(value)
            except ValueError:
                out[key[len(prefix):]] = value
    return out


def to_config(raw: dict[str, Any], extra: dict[str, str] | None = None) -> dict[str, str]:
    config = {f"{NAMESPACE}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    return {**config, **(extra or {})}


def plan_raw(raw: dict[str, Any], stack: str = "test", extra: dict[str, str] | None = None, secret_keys=()) -> Plan:
    return plan_program("secrets-platform", stack, to_config(raw, extra), list(secret_keys), PROJECT_DIR / "__main__.py")


@pytest.fixture
def dev_raw() -> dict[str, Any]:
    return copy.deepcopy(stack_namespace("dev"))


@pytest.fixture
def prod_raw() -> dict[str, Any]:
    return copy.deepcopy(stack_namespace("prod"))


@pytest.fixture(scope="session")
def dev_plan() -> Plan:
    from offline.run import plan_stack

    return plan_stack("dev")


@pytest.fixture(scope="session")
def prod_plan() -> Plan:
    from offline.run import plan_stack

    return plan_stack("prod")


def by_type(plan: Plan, type_: str) -> dict[str, Any]:
    return {r.name: r for r in plan.resources if r.type == type_}


def shared_store_raw(raw: dict[str, Any]) -> dict[str, Any]:
    """The Autolytiq stack with worker (autolytiq-workers) syncing exactly api's (autolytiq) secrets: the one
    layout in which the AWS store is a ClusterSecretStore signing in as the ESO controller."""
    raw = copy.deepcopy(raw)
    workloads = {w["name"]: w for w in raw["workloads"]}
    workloads["worker"]["reads"] = list(workloads["api"]["reads"])
    return raw


@pytest.fixture(scope="session")
def prod_shared_plan() -> Plan:
    """prod with a ClusterSecretStore (see shared_store_raw)."""
    return plan_raw(shared_store_raw(stack_namespace("prod")), stack="prod")
