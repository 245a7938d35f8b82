"""`python -m offline fleet`: real stack files planned by real worker processes, merged into one report.

One fleet run (module fixture) covers the merged content and the failures: dev and prod (they share
Kubernetes service accounts), a prod stack with mandatory violations, a stack file with a config error,
and two workers that crash (one killed like the OOM killer would, one dying with a traceback). Two more runs cover --base as JSON and as a
directory of stack files."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

import pytest
import yaml

from offline.fleet import (
    BAD_CONFIG, CLEAN, CRASHED, PLAN_COMMAND, VIOLATIONS, StackRun, access_changes, account_of, add_parser, base_notes, run_fleet, stack_files,
)
from offline.run import PROJECT_DIR
from tests.conftest import CANARY
from tests.offline.test_plan_policy import _project_with_hand_written_grant

NOW = "2026-06-01"
# A worker that crashes for the stacks named crash-*, and is the real `python -m offline plan` otherwise.
# Pulumi.seeded-prod.yaml is planned by a copy of the project whose program also makes a hand-written
# over-broad grant and writes the canary as a secret value (tests/offline/test_plan_policy.py).
CRASHING_WORKER = """
import os, runpy, signal, sys
stack = os.path.basename(sys.argv[1])
if stack == "Pulumi.seeded-prod.yaml":
    os.chdir({seeded!r})
if stack == "Pulumi.crash-killed.yaml":
    os.kill(os.getpid(), signal.SIGKILL)
if stack == "Pulumi.crash-raises.yaml":
    raise RuntimeError("the worker broke while planning")
sys.argv = ["offline", "plan", *sys.argv[1:]]
sys.path.insert(0, os.getcwd())  # the fleet runs workers in the project directory
runpy.run_module("offline", run_name="__main__")
"""


def fleet(argv: list[str], command=PLAN_COMMAND) -> int:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return run_fleet(parser.parse_args(["fleet", *argv]), command)


def write_stack(directory: Path, stack: str, document: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def dev_document() -> dict:
    return yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())


def without_worker_read(document: dict, workload: str, secret: str) -> dict:
    for w in document["config"]["secrets-platform:workloads"]:
        if w["name"] == workload:
            w["reads"].remove(secret)
    return document


@pytest.fixture(scope="module")
def merged(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("fleet")
    stacks = root / "stacks"
    stacks.mkdir()
    for stack in ("dev", "prod"):
        (stacks / f"Pulumi.{stack}.yaml").write_text((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    broken = dev_document()
    broken["config"]["secrets-platform:secrets"][0]["classification"] = "top-secret"
    write_stack(stacks / "team", "broken", broken)
    for stack in ("crash-killed", "crash-raises"):
        (stacks / f"Pulumi.{stack}.yaml").write_text((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    seeded = _project_with_hand_written_grant(root)
    (stacks / "Pulumi.seeded-prod.yaml").write_text((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    worker = root / "worker.py"
    worker.write_text(CRASHING_WORKER.format(seeded=str(seeded)))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = fleet([str(stacks), "--jobs", "2", "--now", NOW, "--json", str(root / "fleet.json"), "--markdown", str(root / "fleet.md")],
                       (sys.executable, str(worker)))
    return {"status": status, "json": json.loads((root / "fleet.json").read_text()), "markdown": (root / "fleet.md").read_text(), "root": root,
            "terminal": out.getvalue() + err.getvalue()}


def test_a_crashed_worker_makes_the_exit_status_3_and_is_named_in_every_output(merged, capsys):
    document = merged["json"]
    assert merged["status"] == 3 and document["exitCode"] == 3 and document["clean"] is False
    problems = {p["stack"]: p for p in document["problems"]}
    assert problems["crash-killed"]["status"] == CRASHED and problems["crash-killed"]["error"].startswith("worker killed by SIGKILL")
    assert problems["crash-raises"]["status"] == CRASHED
    assert "exit status 1 without a plan" in problems["crash-raises"]["error"]
    assert "RuntimeError: the worker broke while planning" in problems["crash-raises"]["error"]
    assert merged["markdown"].splitlines()[2].startswith("**NOT CLEAN: 3 of 6 stacks could not be planned")
    assert "NOT CLEAN: 3 of 6 stacks could not be planned" in merged["terminal"]
    for stack in ("crash-killed", "crash-raises", "broken"):
        assert f"### {stack}: " in merged["markdown"] and f"{stack}: " in merged["terminal"]
    assert set(document["policy"]["notAssessed"]) == {"crash-killed", "crash-raises", "broken"}


def test_a_bad_stack_file_is_reported_with_its_key_path_and_the_others_still_planned(merged):
    document = merged["json"]
    by_stack = {s["stack"]: s for s in document["stacks"]}
    assert by_stack["broken"]["status"] == BAD_CONFIG and by_stack["broken"]["exitCode"] == 2
    assert by_stack["broken"]["error"].startswith("Pulumi.broken.yaml: secrets-platform:secrets[0] (database).classification:")
    assert "Traceback" not in by_stack["broken"]["error"]
    assert by_stack["broken"]["access"] is None and by_stack["broken"]["resources"] is None
    for stack in ("dev", "prod"):
        assert by_stack[stack]["status"] == CLEAN and by_stack[stack]["resources"] > 50 and by_stack[stack]["access"]["entries"]
    assert {e["stack"] for e in document["rotation"]} == {"dev", "prod", "seeded-prod"}


def test_a_mandatory_violation_is_merged_with_its_stack_and_no_secret_value_is_shown(merged):
    document = merged["json"]
    seeded = next(s for s in document["stacks"] if s["stack"] == "seeded-prod")
    assert seeded["status"] == VIOLATIONS and seeded["exitCode"] == 1 and seeded["policy"]["mandatory"] > 0
    fired = {(v["stack"], v["rule"], v["resource"]) for v in document["policy"]["violations"]}
    assert ("seeded-prod", "SP-IAM-006", "hand-written") in fired and ("seeded-prod", "SP-SM-003", "legacy") in fired
    assert {v["stack"] for v in document["policy"]["violations"]} == {"seeded-prod"}
    assert "| seeded-prod | SP-IAM-006 | mandatory | hand-written |" in merged["markdown"]
    for output in (json.dumps(document), merged["markdown"], merged["terminal"]):
        assert CANARY not in output


def test_the_merged_matrix_highlights_principals_reaching_secrets_in_two_stacks(merged):
    access = merged["json"]["access"]
    rows = {row["id"]: row for row in access["principals"]}
    api = rows["k8s:autolytiq/api"]  # the same service account name in dev's and prod's (and its copy's) clusters
    assert api["crossStack"] is True and api["stacks"] == ["dev", "prod", "seeded-prod"]
    assert {(r["stack"], r["account"]) for r in api["reach"]} == {
        ("dev", "aws 210987654321"), ("prod", "aws 123456789012"), ("seeded-prod", "aws 123456789012")}
    assert all(r["secrets"] == 5 and r["capabilities"] == ["read"] for r in api["reach"])
    assert "k8s:autolytiq/api" in access["crossStack"]
    dev_role = rows["iam-role:autolytiq-dev-api"]
    assert dev_role["crossStack"] is False and dev_role["stacks"] == ["dev"]
    assert access["crossStack"] == [row["id"] for row in access["principals"] if len(row["stacks"]) > 1]
    assert "| ⚠ **k8s:autolytiq/api** | service-account | prod | aws 123456789012 | 5 | read |" in merged["markdown"]
    assert "| iam-role:autolytiq-dev-api | iam-role | dev |" in merged["markdown"]


def test_base_fleet_json_reports_access_lost(merged, tmp_path):
    head = write_stack(tmp_path, "dev", without_worker_read(dev_document(), "api", "jwt"))
    status = fleet([str(head), "--now", NOW, "--base", str(merged["root"] / "fleet.json"), "--json", str(tmp_path / "out.json")])
    document = json.loads((tmp_path / "out.json").read_text())
    assert status == 0 and document["clean"] is True
    (change,) = document["accessDiff"]["stacks"]
    assert change["head"] == "dev" and change["gained"] == []
    lost = {(c["principal"]["id"], c["secret"]["id"]) for c in change["lost"]}
    assert ("k8s:autolytiq/api", "aws:autolytiq/dev/jwt") in lost
    assert document["accessDiff"]["lost"] == len(change["lost"]) > 0


def test_base_directory_is_planned_and_access_gained_highlighted(tmp_path, capsys):
    base = write_stack(tmp_path / "base", "dev", without_worker_read(dev_document(), "api", "jwt")).parent
    status = fleet([str(PROJECT_DIR / "Pulumi.dev.yaml"), "--now", NOW, "--base", str(base), "--markdown", str(tmp_path / "out.md")])
    assert status == 0
    out = capsys.readouterr().out
    assert "highlighted), 0 lost" in out and "clean: 1 stacks planned" in out
    markdown = (tmp_path / "out.md").read_text()
    assert "## Access gained and lost" in markdown and "autolytiq/dev/jwt" in markdown.split("## Access gained and lost")[1]


def test_stack_files_walks_directories_and_rejects_what_is_not_a_stack(tmp_path):
    write_stack(tmp_path / "a", "one", {})
    write_stack(tmp_path / ".hidden", "two", {})
    (tmp_path / "Pulumi.yaml").write_text("name: x\n")
    assert [p.name for p in stack_files([str(tmp_path)])] == ["Pulumi.one.yaml"]
    write_stack(tmp_path / "b", "one", {})
    with pytest.raises(Exception, match="stack one: two stack files"):
        stack_files([str(tmp_path)])
    assert fleet([str(tmp_path / "Pulumi.yaml")]) == 2
    assert fleet([str(tmp_path / "missing")]) == 2


def test_accounts_are_read_from_secret_locations():
    assert account_of("aws", "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf") == "aws 123456789012"
    assert account_of("azure", "https://vibebox-prod-kv.vault.azure.net/secrets/x") == "azure vibebox-prod-kv"
    assert account_of("gcp", "projects/vibebox-prod-4821/secrets/x") == "gcp vibebox-prod-4821"
    assert account_of("vault", "secret/data/x") == "vault"


def test_a_base_that_cannot_be_read_is_bad_input(tmp_path, capsys):
    stack = write_stack(tmp_path, "dev", dev_document())
    (tmp_path / "plan.json").write_text(json.dumps({"kind": "secrets-platform/access-matrix"}))
    assert fleet([str(stack), "--base", str(tmp_path / "plan.json")]) == 2
    assert fleet([str(stack), "--base", str(tmp_path / "missing.json")]) == 2
    assert fleet([str(stack), "--jobs", "0"]) == 2
    err = capsys.readouterr().err
    assert "plan.json: not a fleet JSON document (kind secrets-platform/fleet) nor a directory of stack files" in err
    assert "missing.json: not found" in err and "--jobs: must be at least 1" in err and "Traceback" not in err


def test_a_base_stack_that_did_not_plan_leaves_its_changes_not_assessed(merged):
    runs = [StackRun(file=s["file"], stack=s["stack"], status=s["status"], exit_code=s["exitCode"], seconds=s["seconds"], peak_mib=s["peakMiB"],
                     error=s["error"], document={"access": s["access"]} if s["access"] else None) for s in merged["json"]["stacks"]]
    heads = [r for r in runs if r.stack in ("dev", "prod")]
    failed_base = StackRun(file="base/Pulumi.prod.yaml", stack="prod", status=CRASHED, exit_code=-9, seconds=1, peak_mib=1, error="worker killed by SIGKILL")
    base = {"dev": heads[0].matrix()}
    changes = access_changes(heads, base, ["prod"])
    assert [(c.head, len(c.gained), len(c.lost)) for c in changes] == [("dev", 0, 0)]
    assert base_notes(heads, base, [failed_base]) == ["prod: the base stack file did not plan (crashed); its access changes are not assessed"]
    assert base_notes(heads, base, []) == ["prod: not in the base (a new stack); every access shows as gained"]
