"""`python -m policy check PREVIEW.json` on the hand-written `pulumi preview --json` document in
tests/fixtures/preview/: which steps are checked, exit statuses, formats, config and exceptions, and a canary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from offline.run import PROJECT_DIR
from policy.check import load_preview, main, resources_from_preview
from policy.engine import EXCEPTION_EXPIRED
from documents.props import strings
from documents.props import UNKNOWN_SENTINELS, is_unknown
from policy.rules.base import Finding, Rule, Severity
from tests.conftest import CANARY

FIXTURE = PROJECT_DIR / "tests" / "fixtures" / "preview" / "prod-preview.json"
SCHEMA = json.loads((PROJECT_DIR / "tests" / "fixtures" / "sarif-schema-2.1.0.json").read_text())
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TODAY = date(2025, 6, 1)


def _statements(resource) -> list:
    document = resource["props"].get("policy")
    document = json.loads(document) if isinstance(document, str) and not is_unknown(document) else document
    return document.get("Statement", []) if isinstance(document, dict) else []


def _wildcards(rule, resource) -> list[Finding]:
    out = []
    for index, statement in enumerate(_statements(resource)):
        actions, _ = strings(statement.get("Action"))
        resources, unknown = strings(statement.get("Resource"))
        if any("*" in a for a in actions) or any("*" in r for r in resources):
            out.append(rule.finding(resource, f"statement {index} has a wildcard"))
        elif unknown:
            out.append(rule.undecided(resource, f"statement {index} Resource"))
    return out


IAM = Rule(id="T-IAM", name="iam-no-wildcard", description="IAM statements name actions and resources.", severity=Severity.HIGH, resource_types=(ROLE_POLICY, "aws:iam/userPolicy:UserPolicy"), remediation="Name the actions and ARNs.", frameworks=("SOC2 CC6.3",), check=_wildcards)
RULES = (IAM,)


def fixture() -> dict:
    return json.loads(FIXTURE.read_text())


def write(tmp_path: Path, document, name: str = "preview.json") -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def run(argv, rules=RULES, today=TODAY) -> int:
    return main(argv, rules=rules, today=today)


# --- reading the preview ------------------------------------------------------------------------------------

def test_planned_steps_are_read_once_deleted_ones_not():
    resources = load_preview(str(FIXTURE))
    assert [r["name"] for r in resources] == [
        "payments-prod", "default_7_51_1", "default_7_14_0", "payments-key", "db-password", "db-password-v1", "api", "api-access",
        "api-read-db-password", "phagen-crud", "ops", "payments-key-alias"]  # legacy-ci is being deleted
    alias = next(r for r in resources if r["name"] == "payments-key-alias")
    assert alias["props"] == {"name": "alias/payments-v2", "targetKeyId": UNKNOWN}  # the new state, not the replaced one


def test_unknown_values_reach_the_rules_as_sentinels():
    (read,) = [r for r in load_preview(str(FIXTURE)) if r["name"] == "api-read-db-password"]
    assert read["type"] == ROLE_POLICY and read["urn"].endswith("::api-read-db-password")
    assert read["props"]["policy"]["Statement"][0]["Resource"] in UNKNOWN_SENTINELS


def test_state_file_style_secrets_are_redacted_before_any_rule_sees_them():
    document = {"steps": [{"op": "create", "urn": "urn:pulumi:dev::p::t:m:T::x", "newState": {"type": "t:m:T", "inputs": {
        "secretString": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "plaintext": json.dumps(CANARY)},
        "nested": [{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:abc"}]}}}]}
    (resource,) = resources_from_preview(document, "p.json")
    assert resource["props"] == {"secretString": "[secret]", "nested": ["[secret]"]}


@pytest.mark.parametrize(("document", "problem"), [
    ("{", "not valid JSON (line 1 column 2"),
    ({"resources": []}, "not a `pulumi preview --json` document (no steps list)"),
    ({"steps": ["create"]}, "steps[0]: must be an object with an op"),
    ({"steps": [{"op": "create", "urn": "urn:pulumi:dev::p::t:m:T::x"}]}, "steps[0].newState: missing for a create step"),
    ({"steps": [{"op": "update", "urn": "x", "newState": {"type": "t:m:T"}}]}, "steps[0].urn: must be a Pulumi URN"),
    ({"steps": [{"op": "same", "urn": "urn:pulumi:dev::p::t:m:T::x", "newState": {"inputs": {}}}]}, "steps[0].newState.type: must be a resource type token"),
    ({"steps": [{"op": "create", "urn": "urn:pulumi:dev::p::t:m:T::x", "newState": {"type": "t:m:T", "inputs": [CANARY]}}]},
     "steps[0].newState.inputs: must be an object"),
])
def test_unreadable_previews_exit_2_with_one_clear_line(tmp_path, capsys, document, problem):
    path = write(tmp_path, document)
    assert run([path]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"{path}: {problem}\n" or captured.err.startswith(f"{path}: {problem}")
    assert captured.err.count("\n") == 1 and captured.out == "" and CANARY not in captured.err


def test_a_missing_preview_exits_2(tmp_path, capsys):
    assert run([str(tmp_path / "nope.json")]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'nope.json'}: not found\n"


# --- enforcement, config and exceptions ---------------------------------------------------------------------

def test_prod_preview_with_a_mandatory_violation_exits_1(capsys):
    assert run([str(FIXTURE), "--format", "json"]) == 1  # stack "prod" in the URNs: prod defaults, policy/config/prod.json
    document = json.loads(capsys.readouterr().out)
    assert [(v["resource"], v["message"], v["enforcement"], v["undecided"]) for v in document["violations"]] == [
        ("api-access", "statement 0 has a wildcard", "mandatory", False), ("api-access", "statement 1 has a wildcard", "mandatory", False),
        # unknown at preview: reported, advisory (decided again under `pulumi up`)
        ("api-read-db-password", "could not decide: statement 0 Resource is unknown at preview", "advisory", True)]
    assert document["violations"][0]["remediation"] == "Name the actions and ARNs." and document["exceptions"] == []


def test_dev_enforcement_is_advisory_and_exits_0(capsys):
    assert run([str(FIXTURE), "--stack-env", "dev", "--format", "json"]) == 0
    assert {v["enforcement"] for v in json.loads(capsys.readouterr().out)["violations"]} == {"advisory"}


def test_the_stack_environment_defaults_to_the_stack_name(tmp_path, capsys):
    document = json.loads(FIXTURE.read_text().replace("urn:pulumi:prod::", "urn:pulumi:dev::"))
    path = write(tmp_path, document)
    assert run([path, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["environment"] == "dev"
    assert run([path, "--stack-env", "prod", "--format", "json"]) == 1


def test_exceptions_from_the_config_file(tmp_path, capsys):
    config = tmp_path / "prod.json"
    config.write_text(json.dumps({"all": "mandatory", "T-IAM": {"exceptions": [
        {"resource": "api-access", "reason": "SEC-9: migration to exact ARNs in flight", "expires": "2025-06-30"},
        {"resource": "urn:pulumi:prod::payments::aws:iam/rolePolicy:RolePolicy::api-read-db-password", "reason": "ARN known at update",
         "expires": "2025-06-30"}]}}))
    assert run([str(FIXTURE), "--config", str(config), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["violations"] == [] and [e["status"] for e in document["exceptions"]] == ["applied", "applied"]
    assert run([str(FIXTURE), "--config", str(config), "--format", "json"], today=date(2025, 7, 1)) == 1
    expired = json.loads(capsys.readouterr().out)
    assert sorted(v["rule"] for v in expired["violations"]) == [EXCEPTION_EXPIRED.id] * 2 + ["T-IAM"] * 3


def test_an_invalid_config_exits_2_naming_file_and_key(tmp_path, capsys):
    config = tmp_path / "prod.json"
    config.write_text(json.dumps({"T-IAM": {"exceptions": [{"resource": "api-access", "expires": "2025-06-30"}]}, "T-IAMM": "advisory"}))
    assert run([str(FIXTURE), "--config", str(config)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{config}: T-IAM.exceptions[0].reason: required: say why the exception is safe and who accepted it",
        f"{config}: T-IAMM: no such rule (did you mean T-IAM?)"]


# --- formats ------------------------------------------------------------------------------------------------

def test_sarif_output_file_points_at_the_stack_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "policy.sarif"
    assert run([str(FIXTURE), "--format", "sarif", "--output", str(out)]) == 1
    assert capsys.readouterr().err.startswith("BLOCKED: 2 mandatory, 1 advisory")
    sarif = json.loads(out.read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(sarif)
    uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == FIXTURE.as_uri()  # no Pulumi.prod.yaml here: the preview file itself
    (tmp_path / "Pulumi.prod.yaml").write_text("config: {}\n")
    assert run([str(FIXTURE), "--format", "sarif", "--output", str(out)]) == 1
    assert json.loads(out.read_text())["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "Pulumi.prod.yaml"


def test_markdown_and_text_outputs(capsys):
    assert run([str(FIXTURE), "--format", "markdown"]) == 1
    markdown = capsys.readouterr().out
    assert markdown.startswith("### secrets-platform policy: prod-preview.json (prod): **blocking**") and "| **mandatory** | T-IAM" in markdown
    assert run([str(FIXTURE)]) == 1
    text = capsys.readouterr().out
    assert "api-access  aws:iam/rolePolicy:RolePolicy" in text and "fix: Name the actions and ARNs." in text and "BLOCKED" in text


def test_an_unwritable_output_exits_2(tmp_path, capsys):
    assert run([str(FIXTURE), "--format", "json", "--output", str(tmp_path / "missing" / "out.json")]) == 2
    assert "cannot be written" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        run([str(FIXTURE), "--format", "xml"])
    assert exit_.value.code == 2 and "invalid choice: 'xml'" in capsys.readouterr().err


# --- as a command -------------------------------------------------------------------------------------------

def command(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    return subprocess.run([sys.executable, "-m", "policy", "check", *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=300)


def test_the_command_exits_1_on_the_fixture_with_the_packs_rules(tmp_path):
    result = command(str(FIXTURE), "--format", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    flagged = {v["resource"] for v in document["violations"] if v["enforcement"] == "mandatory"}
    assert "phagen-crud" in flagged  # seed 004's CRUD on secret/data/phagen/*


def test_the_command_reads_stdin_and_fails_cleanly(tmp_path):
    assert command("-", "--stack-env", "dev", "--format", "json", cwd=tmp_path, stdin=FIXTURE.read_text()).returncode == 0
    result = command("-", cwd=tmp_path, stdin="not json")
    assert (result.returncode, result.stdout) == (2, "") and result.stderr == "-: not valid JSON (line 1 column 1: Expecting value)\n"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown"])
def test_a_secret_in_the_preview_never_reaches_any_output(tmp_path, fmt):
    """As if the preview ran with --show-secrets: the canary sits in secretString, in a state-file secret and in a
    policy document a rule reads; the real rules and every format must not print it."""
    document = fixture()
    for step in document["steps"]:
        inputs = (step.get("newState") or {}).get("inputs") or {}
        if "secretString" in inputs:
            inputs["secretString"] = CANARY
            inputs["secretBinary"] = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "plaintext": json.dumps(CANARY)}
        if step["urn"].endswith("::api-access"):
            inputs["policy"] = inputs["policy"].replace("ReadSecrets", CANARY)
    path = write(tmp_path, document)
    result = command(path, "--format", fmt, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "api-access" in result.stdout and CANARY not in result.stdout + result.stderr
