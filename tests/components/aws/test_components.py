"""Properties of what the AWS components plan: trust, exact ARNs, key policies, protection, names."""

from __future__ import annotations

import json

import pytest

from components.aws import actions
from components.aws.secret import VALUE_PROPERTIES
from components.config import parse_stack_spec
from tests.conftest import by_type, plan_raw, shared_store_raw

ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/A1B2C3D4E5F60718293A4B5C6D7E8F90"


def statements(document: str) -> list[dict]:
    return json.loads(document)["Statement"]


def federated_roles(plan) -> dict:
    return {n: r for n, r in by_type(plan, "aws:iam/role:Role").items() if "Federated" in r.inputs["assumeRolePolicy"]}


def test_trust_pins_sub_and_aud_with_string_equals(prod_plan):
    roles = federated_roles(prod_plan)
    # worker receives its secrets through External Secrets only: no role of its own. api and worker sync
    # different secrets, so each namespace's SecretStore signs in as its own role; the controller has none.
    assert set(roles) == {"api-role", "store-autolytiq-role", "store-autolytiq-workers-role"}
    (trust,) = statements(roles["api-role"].inputs["assumeRolePolicy"])
    assert trust["Principal"] == {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"}
    assert trust["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert trust["Condition"] == {
        "StringEquals": {f"{ISSUER}:sub": "system:serviceaccount:autolytiq:api", f"{ISSUER}:aud": "sts.amazonaws.com"}
    }
    for ns in ("autolytiq", "autolytiq-workers"):
        (store,) = statements(roles[f"store-{ns}-role"].inputs["assumeRolePolicy"])
        assert store["Condition"]["StringEquals"] == {f"{ISSUER}:sub": f"system:serviceaccount:{ns}:external-secrets-store", f"{ISSUER}:aud": "sts.amazonaws.com"}


def test_a_cluster_store_signs_in_as_the_controller(prod_shared_plan):
    """Namespaces syncing the same secrets share a ClusterSecretStore: the controller's role, no store roles."""
    roles = federated_roles(prod_shared_plan)
    assert set(roles) == {"api-role", "external-secrets-role"}
    (eso,) = statements(roles["external-secrets-role"].inputs["assumeRolePolicy"])
    assert eso["Condition"]["StringEquals"][f"{ISSUER}:sub"] == "system:serviceaccount:external-secrets:external-secrets"


def test_grants_name_exact_secret_and_key_arns(prod_plan):
    secrets = {r.inputs["name"]: r.outputs["arn"] for r in by_type(prod_plan, "aws:secretsmanager/secret:Secret").values()}
    keys = {r.name: r.outputs["arn"] for r in by_type(prod_plan, "aws:kms/key:Key").values()}
    replica_keys = {r.name: r.outputs["arn"] for r in by_type(prod_plan, "aws:kms/replicaKey:ReplicaKey").values()}
    policy = statements(by_type(prod_plan, "aws:iam/rolePolicy:RolePolicy")["store-autolytiq-workers-secrets"].inputs["policy"])
    read_redis, decrypt_redis = (s for s in policy if s["Sid"] in ("ReadRedis", "ReadRedisKey"))
    assert read_redis["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    assert read_redis["Resource"] == [secrets["autolytiq/prod/redis"]]
    assert decrypt_redis["Action"] == ["kms:Decrypt"]
    assert decrypt_redis["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == [secrets["autolytiq/prod/redis"]]
    # database is replicated to us-west-2: both regional ARNs, both regional keys, both endpoints.
    read_db, decrypt_db = (s for s in policy if s["Sid"] in ("ReadDatabase", "ReadDatabaseKey"))
    primary = secrets["autolytiq/prod/database"]
    assert read_db["Resource"] == [primary, primary.replace(":us-east-1:", ":us-west-2:")]
    assert decrypt_db["Resource"] == [keys["shared-key"], replica_keys["shared-key-us-west-2"]]
    assert decrypt_db["Condition"]["StringEquals"]["kms:ViaService"] == [
        "secretsmanager.us-east-1.amazonaws.com", "secretsmanager.us-west-2.amazonaws.com"
    ]
    for document in by_type(prod_plan, "aws:iam/rolePolicy:RolePolicy").values():
        if document.inputs["name"] != "secrets-access":
            continue  # rotation policies are pinned in test_rotation.py
        for statement in statements(document.inputs["policy"]):
            assert statement["Effect"] == "Allow"
            for resource in statement["Resource"]:
                assert "*" not in resource and "?" not in resource
            assert not any("*" in action for action in statement["Action"])


API_READS = {"database", "redis", "jwt", "session", "pii-encryption"}


@pytest.mark.parametrize("stack_plan, expected", [
    # Each namespace's store identity is derived: exactly what is synced into that namespace.
    ("prod_plan", {"api": API_READS, "store-autolytiq": API_READS, "store-autolytiq-workers": {"database", "redis", "smtp", "resend", "external-apis"}}),
    # One ClusterSecretStore: the controller's reads are derived from the namespaces' (identical) secrets.
    ("prod_shared_plan", {"api": API_READS, "external-secrets": API_READS}),
])
def test_each_role_gets_exactly_its_declared_secrets(request, prod_raw, stack_plan, expected):
    raw = shared_store_raw(prod_raw) if stack_plan == "prod_shared_plan" else prod_raw
    spec = parse_stack_spec(raw, "Pulumi.prod.yaml")
    policies = by_type(request.getfixturevalue(stack_plan), "aws:iam/rolePolicy:RolePolicy")
    assert {w.name for w in spec.all_workloads if spec.reads(w, "aws")} == set(expected)
    for workload, names in expected.items():
        policy = statements(policies[f"{workload}-secrets"].inputs["policy"])
        granted = {r.split(":secret:")[1].rsplit("-", 1)[0] for s in policy if not s["Sid"].endswith("Key") for r in s["Resource"]}
        assert granted == {f"autolytiq/prod/{name}" for name in names}


def test_key_policy_shape(prod_plan):
    key = by_type(prod_plan, "aws:kms/key:Key")["shared-key"]
    assert key.inputs["enableKeyRotation"] is True and key.inputs["multiRegion"] is True
    policy = statements(key.inputs["policy"])
    admin, *users = policy
    assert admin["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert admin["Action"] == sorted(actions.KEY_ADMIN)
    assert not {"kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"} & set(admin["Action"])
    for statement in policy:
        assert statement["Action"] != "kms:*" and "kms:*" not in statement["Action"]
    # The rotation functions of database and session (both on the shared key) write their own secret; the
    # operators put values into the hand-rotated ones (tests/components/test_operators.py).
    assert {s["Sid"] for s in users} == {"ReadApi", "ReadStoreAutolytiq", "ReadStoreAutolytiqWorkers", "WriteRotateDatabase", "WriteRotateSession",
                                         "EncryptOperatorSecretsOperators"}
    worker = next(s for s in users if s["Sid"] == "ReadStoreAutolytiqWorkers")
    assert worker["Principal"] == {"AWS": "arn:aws:iam::123456789012:role/autolytiq-prod-store-autolytiq-workers"}
    assert worker["Action"] == ["kms:Decrypt"]
    assert worker["Condition"]["StringEquals"]["kms:ViaService"] == [
        "secretsmanager.us-east-1.amazonaws.com", "secretsmanager.us-west-2.amazonaws.com"
    ]
    patterns = worker["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"]
    assert "arn:aws:secretsmanager:us-east-1:123456789012:secret:autolytiq/prod/redis-??????" in patterns
    api_patterns = next(s for s in users if s["Sid"] == "ReadApi")["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"]
    assert {p.split(":secret:")[1] for p in api_patterns} == {
        f"autolytiq/prod/{name}-??????" for name in ("database", "redis", "session")
    }  # api reads smtp? no: it is not in its key policy statement
    worker_patterns = {p.split(":secret:")[1] for p in patterns}
    assert not {f"autolytiq/prod/{name}-??????" for name in ("session", "jwt", "pii-encryption")} & worker_patterns  # api's only
    # The jwt key is dedicated: only jwt's readers appear in it (api, and the store of api's namespace only).
    jwt_users = statements(by_type(prod_plan, "aws:kms/key:Key")["jwt-key"].inputs["policy"])[1:]
    assert {s["Sid"] for s in jwt_users} == {"ReadApi", "ReadStoreAutolytiq", "WriteRotateJwt"}


@pytest.mark.parametrize("stack_plan, protected", [("prod_plan", True), ("dev_plan", False)])
def test_prod_protects_and_retains_keys_and_secrets(request, stack_plan, protected):
    plan = request.getfixturevalue(stack_plan)
    guarded_types = {"aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey", "aws:secretsmanager/secret:Secret"}
    guarded = [r for r in plan.resources if r.type in guarded_types]
    assert guarded
    assert all(r.protect is protected and r.retain_on_delete is protected for r in guarded)


def test_recovery_window_by_environment(prod_plan, dev_plan):
    assert {r.inputs["recoveryWindowInDays"] for r in by_type(prod_plan, "aws:secretsmanager/secret:Secret").values()} == {30}
    assert {r.inputs["recoveryWindowInDays"] for r in by_type(dev_plan, "aws:secretsmanager/secret:Secret").values()} == {7}


def test_every_taggable_resource_is_tagged(prod_plan):
    for r in prod_plan.resources:
        if r.type in ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey", "aws:secretsmanager/secret:Secret", "aws:iam/role:Role"):
            assert {"environment", "owner", "managed-by", "cost-centre"} <= set(r.inputs["tags"]), r.name
    secret = by_type(prod_plan, "aws:secretsmanager/secret:Secret")["database-secret"]
    assert secret.inputs["tags"]["classification"] == "high"
    assert secret.inputs["tags"]["rotation"] == "postgres-single" and secret.inputs["tags"]["rotation-days"] == "30"


def test_provider_pins_account_and_region(prod_plan):
    (provider,) = by_type(prod_plan, "pulumi:providers:aws").values()
    assert json.loads(provider.inputs["allowedAccountIds"]) == ["123456789012"]
    assert provider.inputs["region"] == "us-east-1"


def test_initial_value_is_write_only_and_never_overwritten(prod_raw):
    prod_raw["aws"]["deployer_role_arn"] = "arn:aws:iam::123456789012:role/pulumi-deployer"
    prod_raw["secrets"][5]["initial_value"] = "config"  # smtp
    plan = plan_raw(prod_raw, stack="prod", extra={"initial-value:smtp": '{"user": "x"}'}, secret_keys=["initial-value:smtp"])
    (version,) = by_type(plan, "aws:secretsmanager/secretVersion:SecretVersion").values()
    assert version.inputs["secretStringWo"] == "[secret]"  # recorded redacted, sent as a secret
    assert "secretString" not in version.inputs
    assert set(version.ignore_changes) == set(VALUE_PROPERTIES) >= {"secretStringWo", "versionStages"}
    assert version.protect and version.retain_on_delete
    # The deployer may make data keys for smtp only, and decrypt nothing.
    shared = statements(by_type(plan, "aws:kms/key:Key")["shared-key"].inputs["policy"])
    deployer = next(s for s in shared if s["Principal"] == {"AWS": "arn:aws:iam::123456789012:role/pulumi-deployer"})
    assert deployer["Action"] == ["kms:GenerateDataKey"]  # writing the initial value never needs to decrypt it (#15)
    assert all("/smtp-??????" in p for p in deployer["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"])


def test_renaming_a_workload_does_not_touch_secrets_or_keys(prod_raw, prod_plan):
    prod_raw["workloads"][0]["name"] = "api-v2"
    renamed = plan_raw(prod_raw, stack="prod")
    stable = lambda plan: {r.urn for r in plan.resources if r.type.startswith(("aws:secretsmanager", "aws:kms"))}
    assert stable(renamed) == stable(prod_plan)
    assert "api-v2-role" in by_type(renamed, "aws:iam/role:Role")


def test_a_typo_in_the_action_table_fails_clearly(monkeypatch):
    with pytest.raises(actions.UnknownIamAction, match="secretsmanager:GetSecretValu$"):
        actions.checked(("secretsmanager:GetSecretValu",))
    for action_set in actions.ALL_ACTION_SETS:
        assert actions.checked(action_set)


def test_a_reader_and_writer_gets_both_grants(dev_raw):
    """Regression: a secret in both reads and writes once lost its read grant."""
    dev_raw["workloads"][0]["writes"] = ["session"]  # api reads and writes session
    plan = plan_raw(dev_raw, stack="dev")
    policy = statements(by_type(plan, "aws:iam/rolePolicy:RolePolicy")["api-secrets"].inputs["policy"])
    session = {s["Sid"]: s["Action"] for s in policy if "Session" in s["Sid"]}
    assert session == {
        "ReadSession": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
        "ReadSessionKey": ["kms:Decrypt"],
        "WriteSession": ["secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"],
        "WriteSessionKey": ["kms:Decrypt", "kms:GenerateDataKey"],
    }
    key_statements = statements(by_type(plan, "aws:kms/key:Key")["shared-key"].inputs["policy"])
    assert {"ReadApi", "WriteApi"} <= {s["Sid"] for s in key_statements}
