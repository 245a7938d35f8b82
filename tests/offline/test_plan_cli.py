"""The main job end to end, as a user runs it: `python -m offline plan <stack>` in a fresh process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from offline.run import PROJECT_DIR
from tests.conftest import CANARY


def run_plan(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "offline", "plan", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plan_prints_the_estate(stack, tmp_path):
    out = tmp_path / "plan.json"
    result = run_plan(stack, "--json", str(out))
    assert result.returncode == 0, result.stderr
    for heading in ("Resources by type", "Secrets", "secrets-platform:aws:ManagedSecret", "aws:kms/key:Key",
                    f"Access matrix summary: {stack}", "Compliance", "SOC2 CC6.1"):
        assert heading in result.stdout
    assert "Traceback" not in result.stderr
    document = json.loads(out.read_text())
    assert document["stack"] == stack
    assert document["counts"]["aws:secretsmanager/secret:Secret"] == 8
    database = next(s for s in document["secrets"] if s["name"] == "database")
    assert database["path"] == f"autolytiq/{stack}/database"
    assert database["rotation"] == "postgres-single every 30 days"
    # api and worker sync it through their namespaces' stores; the rotation function reads and writes it.
    assert database["readers"] == ["api", "rotate-database", "store-autolytiq", "store-autolytiq-workers"]
    assert database["writers"] == ["rotate-database"]
    assert database["protected"] is (stack == "prod")
    assert set(document["outputs"]["secret_arns"]) == {s["name"] for s in document["secrets"]}
    # The same sections as the Markdown report, for machines.
    assert {e["secret"] for e in document["rotation"]} == {s["name"] for s in document["secrets"]}
    assert document["access"]["stack"] == stack and document["accessDiff"] is None
    assert {c["status"] for c in document["compliance"]} <= {"pass", "not applicable"}
    # Piped, as in a CI log: every secret path, key alias and principal is printed whole on one line, so a
    # shared key can be told from a dedicated one.
    aliases = {r["inputs"]["name"] for r in document["resources"] if r["type"] == "aws:kms/alias:Alias"}
    assert f"alias/autolytiq-{stack}/shared" in aliases
    values = {s["path"] for s in document["secrets"]} | {s["key"] for s in document["secrets"]} | aliases
    values |= {p["label"] for p in document["access"]["principals"]}
    lines = result.stdout.splitlines()
    assert [v for v in sorted(values) if not any(v in line for line in lines)] == []
    assert "…" not in result.stdout
    # The readers name the workloads and the store identity they read through, not only the store's role.
    assert (f"autolytiq-workers/worker via SecretStore aws-secrets-manager-{stack} (in autolytiq-workers) "
            f"as IAM role autolytiq-{stack}-store-autolytiq-workers") in result.stdout
    assert f"autolytiq/api as IAM role autolytiq-{stack}-api" in result.stdout


def _project_copy(tmp_path: Path, stack_config: dict) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for item in ("Pulumi.yaml", "__main__.py", "components", "documents", "offline", "policy", "rotation"):
        source = PROJECT_DIR / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / item)
    (project / "Pulumi.canary.yaml").write_text(yaml.safe_dump({"config": stack_config}))
    return project


def test_canary_secret_value_never_printed(tmp_path):
    """The initial value reaches the program as a secret, and no output or file carries it."""
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    config["secrets-platform:aws"]["deployer_role_arn"] = "arn:aws:iam::210987654321:role/pulumi-deployer"
    config["secrets-platform:secrets"][0]["initial_value"] = "config"
    project = _project_copy(tmp_path, config)
    # The offline runner cannot decrypt `secure:` values, so plan in-process with the canary
    # set as a decrypted secret, exactly as the engine hands it to the program.
    script = f"""
import json, sys
sys.path.insert(0, {str(project)!r})
from offline.run import read_stack_config, plan_program
from offline.report import plan_document, print_plan
from rich.console import Console
from pathlib import Path
project, config, secret_keys = read_stack_config("canary", Path({str(project)!r}))
config["initial-value:database"] = {json.dumps(CANARY)}
plan = plan_program(project, "canary", config, secret_keys + ["initial-value:database"], Path({str(project)!r}) / "__main__.py")
print_plan(plan, Console(width=200))
print(json.dumps(plan_document(plan), default=str))
print("versions:", sum(r.type.endswith("SecretVersion") for r in plan.resources))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=project)
    assert result.returncode == 0, result.stderr
    assert "versions: 1" in result.stdout  # the value really flowed into a resource
    assert CANARY not in result.stdout and CANARY not in result.stderr


def test_config_error_exits_2_with_one_line_per_problem(tmp_path):
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    config["secrets-platform:secrets"][0]["rotation"]["days"] = 0
    config["secrets-platform:secrets"][1]["password"] = CANARY
    project = _project_copy(tmp_path, config)
    result = subprocess.run([sys.executable, "-m", "offline", "plan", "canary"], cwd=project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "Pulumi.canary.yaml: secrets-platform:secrets[0] (database).rotation.days: input should be greater than or equal to 1 (got 0)",
        "Pulumi.canary.yaml: secrets-platform:secrets[1] (redis).password: unknown key; allowed: name, path, description, classification, "
        "backend, mount, key, rotation, replica_regions, recovery_window_days, initial_value, properties, tags, adopt",
    ]
    assert result.stdout == ""  # nothing half-done: no resource was planned or printed
    assert CANARY not in result.stderr


@pytest.mark.parametrize("stack, message", [("nosuch", "Pulumi.nosuch.yaml: not found (stacks: dev, prod)")])
def test_unknown_stack_exits_2(stack, message):
    result = run_plan(stack)
    assert result.returncode == 2 and result.stderr.strip() == message


def test_a_bug_in_the_program_exits_3_never_1(tmp_path):
    """Regression: an exception in the program (a merge left a call to a removed spec method) exited 1, the code
    of a mandatory violation, so the golden runner and the fleet read a crash as a policy result."""
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    project = _project_copy(tmp_path, config)
    (project / "__main__.py").write_text('raise RuntimeError("a bug in the toolkit")\n')
    result = run_plan("canary", cwd=project)
    assert result.returncode == 3, result.stderr
    assert "RuntimeError: a bug in the toolkit" in result.stderr
