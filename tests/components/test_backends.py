"""The backend registry and the layering: every registered backend implements the whole interface, no
backend imports another (nor delivery a backend), and the composition knows none of them."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

from components import backend as interface
from components.config import SecretSpec
from components.registry import BACKENDS

COMPONENTS = Path(interface.__file__).parent
PACKAGES = sorted(p.name for p in COMPONENTS.iterdir() if p.is_dir() and (p / "__init__.py").exists())
SHARED = {"spec"}  # the typed stack spec: every layer reads it, it is no backend


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_registered_backend_implements_the_interface(backend):
    members = {name for name in vars(interface.Backend) if not name.startswith("_")} | set(interface.Backend.__annotations__)
    assert members >= {"grant", "store_provider", "remote_key", "pod_identity", "ready", "outputs", "enabled", "name"}
    assert all(hasattr(backend, name) for name in members), sorted(m for m in members if not hasattr(backend, m))
    assert backend.__module__ == f"components.{backend.name}.backend"  # one entry point per package


def test_registry_names_every_backend_a_secret_may_name_once():
    names = [b.name for b in BACKENDS]
    allowed = set(typing.get_args(SecretSpec.model_fields["backend"].annotation))
    assert len(names) == len(set(names)) and set(names) == allowed
    outputs = [o for b in BACKENDS for o in b.outputs_declared]
    assert len(outputs) == len(set(outputs))


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_another_backend(package):
    others = {f"components.{p}" for p in PACKAGES if p != package and p not in SHARED}
    for path in (COMPONENTS / package).glob("*.py"):
        wrong = {m for m in imported_modules(path) if any(m == o or m.startswith(f"{o}.") for o in others)}
        assert not wrong, f"{path.relative_to(COMPONENTS.parent)} imports {sorted(wrong)}"


def test_composition_knows_no_backend():
    platform = COMPONENTS / "platform.py"
    imported = imported_modules(platform)
    assert not {m for m in imported for p in PACKAGES if m.startswith(f"components.{p}.") and p != "kubernetes" and p not in SHARED}
    assert not {m for m in imported if m.startswith("pulumi_")}  # no provider SDK: the backends own them
    assert len(platform.read_text().splitlines()) < 250
