"""The GitHub Actions workflows: actionlint and zizmor report nothing, and the security
properties hold structurally (pinned actions, least permissions, OIDC only where used,
the deploy behind a protected environment with the policy pack mandatory)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
TOOLS_BIN = ROOT / ".tools" / "bin"
INSTALL_HINT = "bash .ci/install-actionlint.sh"

# Actions that exchange the job's OIDC token for cloud credentials: the only reason for id-token: write.
OIDC_ACTIONS = {"aws-actions/configure-aws-credentials", "pulumi/auth-actions"}
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
# `uses: owner/repo@<sha> # v1.2.3`: the comment tells a reviewer (and Dependabot) the release.
PINNED_LINE = re.compile(r"uses:\s*\S+@[0-9a-f]{40}\s+#\s*v\d+(\.\d+)*\s*$")

# A workflow with the mistakes both linters exist to catch, to prove they are really checking.
BAD_WORKFLOW = """\
name: bad
on:
  pull_request:
jobs:
  x:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credential: false
      - run: echo "${{ github.event.pull_request.title }}"
"""


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    return on if isinstance(on, dict) else {name: None for name in ([on] if isinstance(on, str) else on)}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def action(step: dict[str, Any]) -> str | None:
    uses = step.get("uses")
    return uses.split("@", 1)[0] if uses else None


def all_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path.name, name, job) for path in WORKFLOWS for name, job in load(path)["jobs"].items()]


def pulumi_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in steps(job) if action(s) == "pulumi/actions"]


def test_both_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"pull-request.yml", "deploy.yml"}


# --- linters -----------------------------------------------------------------------------


def actionlint() -> Path:
    found = TOOLS_BIN / "actionlint"
    if found.exists():
        return found
    on_path = shutil.which("actionlint")
    if on_path:
        return Path(on_path)
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"actionlint is not installed; CI must install it first: {INSTALL_HINT}")
    pytest.skip(f"actionlint not installed locally; install it with: {INSTALL_HINT}")


def run_actionlint(*files: Path) -> tuple[int, list[dict[str, Any]]]:
    cmd = [str(actionlint()), "-no-color", "-format", "{{json .}}"]
    shellcheck = TOOLS_BIN / "shellcheck"
    if shellcheck.exists():
        # Absolute path: actionlint (Go) ignores binaries found through relative PATH entries.
        cmd += ["-shellcheck", str(shellcheck.resolve())]
    result = subprocess.run([*cmd, *map(str, files)], capture_output=True, text=True, cwd=ROOT)
    return result.returncode, json.loads(result.stdout or "[]")


def run_zizmor(target: Path) -> tuple[int, list[dict[str, Any]]]:
    zizmor = Path(sys.executable).with_name("zizmor")
    exe = str(zizmor) if zizmor.exists() else shutil.which("zizmor")
    assert exe, "zizmor is a dev dependency: run `uv sync --frozen`"
    # --offline: no GitHub API calls; pedantic: code smells count as findings too.
    result = subprocess.run(
        [exe, "--offline", "--persona=pedantic", "--format", "json", str(target)],
        capture_output=True, text=True, cwd=ROOT,
    )
    return result.returncode, json.loads(result.stdout or "[]")


def test_actionlint_reports_nothing():
    status, findings = run_actionlint(*WORKFLOWS)
    messages = [f"{f['filepath']}:{f['line']}: {f['message']} [{f['kind']}]" for f in findings]
    assert (status, messages) == (0, [])


def test_actionlint_really_checks(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    status, findings = run_actionlint(bad)
    assert status == 1
    messages = " ".join(f["message"] for f in findings)
    assert "persist-credential" in messages and "potentially untrusted" in messages


def test_zizmor_reports_nothing():
    status, findings = run_zizmor(WORKFLOW_DIR)
    assert (status, [f["ident"] for f in findings]) == (0, [])


def test_zizmor_really_checks(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    status, findings = run_zizmor(bad)
    assert status != 0
    assert {"unpinned-uses", "template-injection", "artipacked"} <= {f["ident"] for f in findings}


# --- structure -----------------------------------------------------------------------------


def test_every_action_is_pinned_to_a_commit_with_its_version():
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            refs = [job["uses"]] if "uses" in job else [s["uses"] for s in steps(job) if "uses" in s]
            for ref in refs:
                assert SHA_PIN.match(ref), f"{path.name}: {ref} is not pinned to a full commit SHA"
        for line in path.read_text().splitlines():
            if re.match(r"\s*(-\s+)?uses:", line):
                assert PINNED_LINE.search(line), f"{path.name}: `{line.strip()}` lacks a `# vX.Y.Z` comment"


def test_top_level_permissions_are_empty():
    for path in WORKFLOWS:
        assert load(path).get("permissions") == {}, f"{path.name}: top-level permissions must be {{}}"


def posts_comments(job: dict[str, Any]) -> bool:
    """pulumi/actions' comment-on-pr, or a script that writes issue comments through `gh api`."""
    return any(str(s.get("with", {}).get("comment-on-pr")).lower() == "true" for s in steps(job)) or any(
        "gh api" in s.get("run", "") and "/comments" in s.get("run", "") and "--method" in s.get("run", "") for s in steps(job)
    )


def test_every_job_declares_only_what_it_uses():
    for workflow, name, job in all_jobs():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{workflow}:{name} declares no permissions"
        uses_oidc = any(action(s) in OIDC_ACTIONS for s in steps(job))
        checks_out = any(action(s) == "actions/checkout" for s in steps(job))
        expected = {"contents": "read"} if checks_out else {}
        if uses_oidc:
            expected["id-token"] = "write"
        if posts_comments(job):
            expected["pull-requests"] = "write"
        assert perms == expected, f"{workflow}:{name}"


# What running the pull request's code looks like in a step.
RUNS_CODE = re.compile(r"\b(make|python|uv|pip|pytest|pulumi|npm|node)\b")


def test_pull_request_report_is_planned_offline_and_commented_without_running_its_code():
    workflow = load(WORKFLOW_DIR / "pull-request.yml")
    assert set(triggers(workflow)) == {"pull_request"}  # never pull_request_target
    report, comment = workflow["jobs"]["report"], workflow["jobs"]["comment"]
    # The report plans both checkouts offline: no cloud credentials, so fork pull requests get it too.
    assert report["permissions"] == {"contents": "read"} and "if" not in report
    assert report["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert not any(action(s) in OIDC_ACTIONS or action(s) == "pulumi/actions" for s in steps(report))
    checkouts = [s["with"] for s in steps(report) if action(s) == "actions/checkout"]
    assert {c.get("path") for c in checkouts} == {"head", "base"}
    assert next(c for c in checkouts if c["path"] == "base")["ref"] == "${{ github.event.pull_request.base.sha }}"
    scripts = "\n".join(s.get("run", "") for s in steps(report))
    assert "python -m offline plan" in scripts and "--base" in scripts and "--comment" in scripts and "--markdown" in scripts
    assert "--comment-limit 30000" in scripts  # two stacks in one comment stay under 65,536 characters
    assert "GITHUB_STEP_SUMMARY" in scripts
    upload = next(s for s in steps(report) if action(s) == "actions/upload-artifact")
    assert steps(report).index(upload) < len(steps(report)) - 1, "the report is uploaded before the verdict can fail the job"
    # The only job allowed to comment: it runs no code of the pull request, only `gh api` on downloaded text.
    writers = [name for _, name, job in all_jobs() if job.get("permissions", {}).get("pull-requests") == "write"]
    assert set(writers) == {"comment", "preview"}
    assert comment["permissions"] == {"pull-requests": "write"}
    assert comment["needs"] == "report"
    assert "head.repo.full_name == github.repository" in comment["if"] and "!cancelled()" in comment["if"]
    assert [action(s) for s in steps(comment) if "uses" in s] == ["actions/download-artifact"]
    for step in steps(comment):
        script = step.get("run", "")
        assert not RUNS_CODE.search(script.replace("gh api", "")), script
    post = next(s for s in steps(comment) if "run" in s)
    assert post["env"]["GH_TOKEN"] == "${{ github.token }}"
    # One sticky comment: found by its marker and updated, else created.
    assert "<!-- secrets-platform-plan-report -->" in post["run"] and "--method PATCH" in post["run"] and "--method POST" in post["run"]


def test_checkout_never_persists_the_token():
    for workflow, name, job in all_jobs():
        for step in steps(job):
            if action(step) == "actions/checkout":
                assert step.get("with", {}).get("persist-credentials") is False, f"{workflow}:{name}"


def test_no_expression_inside_run_scripts():
    # Template injection: values reach scripts through `env:`, never through `${{ }}` in `run:`.
    for workflow, name, job in all_jobs():
        for step in steps(job):
            assert "${{" not in step.get("run", ""), f"{workflow}:{name}: {step['run']!r}"


def test_cloud_credentials_come_from_oidc_only():
    for path in WORKFLOWS:
        text = path.read_text()
        assert "secrets." not in text, f"{path.name} uses a stored secret"
        assert "aws-access-key-id" not in text and "PULUMI_ACCESS_TOKEN" not in text
    for workflow, name, job in all_jobs():
        if pulumi_steps(job):
            used = [action(s) for s in steps(job)]
            assert OIDC_ACTIONS <= set(used), f"{workflow}:{name}"
            # Credentials are in place before Pulumi runs.
            assert max(used.index(a) for a in OIDC_ACTIONS) < used.index("pulumi/actions")
            aws = next(s for s in steps(job) if action(s) == "aws-actions/configure-aws-credentials")
            assert aws["with"]["role-to-assume"].startswith("${{ vars."), "role ARN comes from a variable"


def test_pull_request_previews_dev_and_prod_with_the_pack():
    workflow = load(WORKFLOW_DIR / "pull-request.yml")
    assert set(triggers(workflow)) == {"pull_request"}
    assert "github.event.pull_request.number" in workflow["concurrency"]["group"]
    preview = workflow["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    (step,) = pulumi_steps(preview)
    options = step["with"]
    assert options["command"] == "preview"
    assert options["stack-name"].endswith("/${{ matrix.stack }}")
    assert options["policyPacks"] == "policy"
    assert options["policyPackConfigs"] == "policy/config/${{ matrix.stack }}.json"
    assert options["comment-on-pr"] is True
    tests = workflow["jobs"]["tests"]
    assert [s["run"] for s in steps(tests) if "run" in s] == ["make test"]


def test_deploy_is_gated_by_a_protected_environment_and_the_mandatory_pack():
    workflow = load(WORKFLOW_DIR / "deploy.yml")
    on = triggers(workflow)
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    deploying = [(name, job) for name, job in workflow["jobs"].items() if pulumi_steps(job)]
    assert [name for name, _ in deploying] == ["deploy"]
    deploy = workflow["jobs"]["deploy"]
    assert deploy["environment"] == "production"
    assert deploy["needs"] == "tests"
    (step,) = pulumi_steps(deploy)
    assert step["with"]["command"] == "up"
    assert step["with"]["stack-name"].endswith("/prod")
    assert step["with"]["policyPacks"] == "policy"
    assert step["with"]["policyPackConfigs"] == "policy/config/prod.json"
    # Only the environment-protected job may touch the cloud.
    for name, job in workflow["jobs"].items():
        if name != "deploy":
            assert "id-token" not in job.get("permissions", {})


def test_pack_configs_the_workflows_name_exist():
    for workflow, name, job in all_jobs():
        for step in pulumi_steps(job):
            config = step["with"]["policyPackConfigs"]
            stacks = job.get("strategy", {}).get("matrix", {}).get("stack", [None])
            for stack in stacks:
                path = ROOT / config.replace("${{ matrix.stack }}", stack or "")
                assert path.is_file(), f"{workflow}:{name} names {path.relative_to(ROOT)}, which does not exist"


def test_uv_version_matches_the_makefile():
    # The Makefile runs uv through .ci/uv.py, which pins the version beside the wheels' hashes.
    (expected,) = re.findall(r'^UV_VERSION = "(\S+)"', (ROOT / ".ci" / "uv.py").read_text(), re.M)
    for path in WORKFLOWS:
        assert load(path)["env"]["UV_VERSION"] == expected, path.name


def test_pull_request_fleet_plans_the_touched_stacks_against_the_base():
    fleet = load(WORKFLOW_DIR / "pull-request.yml")["jobs"]["fleet"]
    # Offline like the report: no cloud credentials, so fork pull requests get it too.
    assert fleet["permissions"] == {"contents": "read"} and "if" not in fleet
    assert not any(action(s) in OIDC_ACTIONS or action(s) == "pulumi/actions" for s in steps(fleet))
    checkouts = {s["with"].get("path"): s["with"] for s in steps(fleet) if action(s) == "actions/checkout"}
    assert set(checkouts) == {"head", "base"} and checkouts["base"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    scripts = [s.get("run", "") for s in steps(fleet)]
    touched, base, head = (next(i for i, script in enumerate(scripts) if marker in script)
                           for marker in ("diff -rqN", "base-fleet.json\" > /dev/null", "--markdown"))
    assert touched < base < head  # the base is planned (by its own code) before the head compares against it
    assert "python -m offline fleet" in scripts[base] and "python -m offline fleet" in scripts[head] and "--base" in scripts[head]
    upload = next(i for i, s in enumerate(steps(fleet)) if action(s) == "actions/upload-artifact")
    assert head < upload < len(steps(fleet)) - 1 and "exit" in scripts[-1], "the report is uploaded before the verdict can fail the job"
