"""The offline plan runs the policy pack over what it planned: clean on our stacks, and a grant
written the way the seeds write it blocks prod (exit 1) and is reported, advisory, in dev."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from offline.run import PROJECT_DIR
from policy.engine import evaluate
from policy.rules import ALL_RULES
from policy.settings import settings_for
from tests.conftest import CANARY

# Seed 000's IAM document, written literally.
SEED_000_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": ["arn:aws:secretsmanager:us-east-1:*:secret:prod/*"]},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "arn:aws:kms:us-east-1:*:key/*"},
    ],
}

HAND_WRITTEN = f'''
import json
import pulumi_aws as aws
aws.iam.RolePolicy("hand-written", role="legacy-app", policy=json.dumps({json.dumps(SEED_000_POLICY)}))
aws.secretsmanager.Secret("legacy", name="prod/legacy", recovery_window_in_days=0, tags={{"classification": "high", "environment": "prod"}})
aws.secretsmanager.SecretVersion("legacy-value", secret_id="prod/legacy", secret_string={json.dumps(CANARY)})
'''


@pytest.mark.parametrize("stack", ["dev", "prod", "examples/emr/Pulumi.emr-prod.yaml", "examples/phagen/Pulumi.phagen-prod.yaml"])
def test_our_stacks_plan_with_zero_violations(stack):
    from offline.run import plan_stack

    plan = plan_stack(stack)
    report = evaluate(plan.policy_resources(), settings_for(plan.environment, ALL_RULES))
    assert report.violations == (), [(v.rule_id, v.urn, v.message) for v in report.violations]
    assert report.counts["resources"] == len(plan.policy_resources()) > 10


def _project_with_hand_written_grant(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns(".venv", ".git", ".tools", ".build", "__pycache__", ".hypothesis", ".pytest_cache"))
    with open(project / "__main__.py", "a") as main:
        main.write(HAND_WRITTEN)
    return project


@pytest.fixture(scope="module")
def hand_written_project(tmp_path_factory):
    return _project_with_hand_written_grant(tmp_path_factory.mktemp("seeded"))


def test_prod_plan_with_the_seed_grant_exits_1(hand_written_project, tmp_path):
    out = tmp_path / "plan.json"
    result = subprocess.run([sys.executable, "-m", "offline", "plan", "prod", "--json", str(out), "--markdown", str(tmp_path / "policy.md")],
                            cwd=hand_written_project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    violations = json.loads(out.read_text())["policy"]["violations"]
    fired = {(v["rule"], v["urn"].rsplit("::", 1)[1]) for v in violations}
    assert ("SP-IAM-006", "hand-written") in fired  # wildcards inside secret and key ARNs
    assert ("SP-SM-003", "legacy") in fired  # force delete in prod
    assert all(v["enforcement"] == "mandatory" for v in violations)
    for output in (result.stdout, result.stderr, out.read_text(), (tmp_path / "policy.md").read_text()):
        assert CANARY not in output
    assert "SP-IAM-006" in result.stdout and "SP-IAM-006" in (tmp_path / "policy.md").read_text()


def test_dev_plan_reports_the_same_as_advisory(hand_written_project):
    result = subprocess.run([sys.executable, "-m", "offline", "plan", "dev"], cwd=hand_written_project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "SP-IAM-006" in result.stdout and "advisory" in result.stdout
    assert CANARY not in result.stdout + result.stderr
