"""Rules that depend on the environment (issue #16): a resource's `environment` tag decides; without one, the
stack's environment does (`--stack-env`, the offline plan's `secrets-platform:environment`). Before, an untagged
public Key Vault passed the prod gate (SP-AZ-005), and so did an untagged force-deleted secret and a vault with a
short retention. Each rule reading the environment gets the same three cases."""

from __future__ import annotations

import json

import pytest

from policy.check import main
from policy.engine import evaluate
from policy.rules import aws_secrets, azure
from policy.rules.base import STACK_ENVIRONMENT, is_prod
from policy.settings import PackSettings
from tests.policy.rules import test_aws_secrets, test_azure
from tests.policy.rules.builders import DELETE, UNKNOWN, mutated

# (rule, the compliant fixture mutated into a prod-only violation, with its environment tag removed)
UNTAGGED_PROD_ONLY_VIOLATIONS = [
    (azure.KEYVAULT_NO_PUBLIC_NETWORK_IN_PROD, mutated(test_azure.vault(), {"properties.networkAcls": DELETE, "tags.environment": DELETE})),
    (azure.KEYVAULT_RECOVERABLE, mutated(test_azure.vault(), {"properties.softDeleteRetentionInDays": 7, "tags.environment": DELETE})),
    (aws_secrets.SECRET_PROD_RECOVERY_WINDOW, mutated(test_aws_secrets.secret(), {"recoveryWindowInDays": 0, "tags.environment": DELETE})),
]
IDS = [rule.id for rule, _ in UNTAGGED_PROD_ONLY_VIOLATIONS]


def _ids(report) -> set[str]:
    return {v.rule_id for v in report.violations if not v.undecided}


@pytest.mark.parametrize(("rule", "untagged"), UNTAGGED_PROD_ONLY_VIOLATIONS, ids=IDS)
def test_an_untagged_resource_in_a_prod_stack_is_prod(rule, untagged):
    assert rule.id in _ids(evaluate([untagged], PackSettings("prod"), (rule,)))
    assert rule.id not in _ids(evaluate([untagged], PackSettings("dev"), (rule,)))


@pytest.mark.parametrize(("rule", "untagged"), UNTAGGED_PROD_ONLY_VIOLATIONS, ids=IDS)
def test_the_tag_wins_over_the_stack(rule, untagged):
    tagged_dev = mutated(untagged, {"tags": {"environment": "dev"}})
    tagged_prod = mutated(untagged, {"tags": {"environment": "production"}})
    assert rule.id not in _ids(evaluate([tagged_dev], PackSettings("prod"), (rule,)))
    assert rule.id in _ids(evaluate([tagged_prod], PackSettings("dev"), (rule,)))


@pytest.mark.parametrize(("rule", "untagged"), UNTAGGED_PROD_ONLY_VIOLATIONS, ids=IDS)
def test_without_tag_or_stack_the_rule_is_undecided_not_silent(rule, untagged):
    findings = rule.findings(untagged)  # called directly, as without the engine: no stack environment
    assert findings and all(f.undecided for f in findings)


def test_is_prod():
    assert is_prod({STACK_ENVIRONMENT: "prod"}, None) is True
    assert is_prod({STACK_ENVIRONMENT: "prod"}, "") is True  # an empty tag is no tag
    assert is_prod({STACK_ENVIRONMENT: "prod"}, "Dev") is False
    assert is_prod({STACK_ENVIRONMENT: "dev"}, "PROD") is True
    assert is_prod({STACK_ENVIRONMENT: "prod"}, UNKNOWN) is None
    assert is_prod({}, None) is None


def _preview(tmp_path, stack: str, props: dict) -> str:
    urn = f"urn:pulumi:{stack}::kv::azure-native:keyvault:Vault::vault"
    steps = [{"op": "create", "urn": urn, "newState": {"urn": urn, "custom": True, "type": azure.KEY_VAULT, "inputs": props, "outputs": {}}}]
    path = tmp_path / "preview.json"
    path.write_text(json.dumps({"steps": steps}))
    return str(path)


def test_the_checker_gates_an_untagged_public_vault_with_stack_env_prod(tmp_path, capsys):
    """The issue's case: `python -m policy check --stack-env prod` on a Key Vault without an environment tag."""
    public = mutated(test_azure.vault(), {"properties.networkAcls": DELETE, "tags": {"owner": "phagen-platform"}})["props"]
    preview = _preview(tmp_path, "phagen", public)  # a stack name that says nothing about its environment
    assert main([preview, "--stack-env", "prod", "--format", "json"], rules=(azure.KEYVAULT_NO_PUBLIC_NETWORK_IN_PROD,)) == 1
    violations = json.loads(capsys.readouterr().out)["violations"]
    assert [(v["rule"], v["enforcement"], v["undecided"]) for v in violations] == [
        (azure.KEYVAULT_NO_PUBLIC_NETWORK_IN_PROD.id, "mandatory", False)]
    assert main([preview, "--stack-env", "dev", "--format", "json"], rules=(azure.KEYVAULT_NO_PUBLIC_NETWORK_IN_PROD,)) == 0


def test_crossguard_takes_the_environment_from_the_stack(monkeypatch):
    from policy.__main__ import rule_settings

    for stack, environment in (("phagen-prod", "prod"), ("dev", "dev")):
        monkeypatch.setenv("PULUMI_STACK", stack)
        assert rule_settings(azure.KEYVAULT_NO_PUBLIC_NETWORK_IN_PROD, {}).environment == environment
