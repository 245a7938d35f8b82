"""The rotation component: exact role policy, pinned invoke permission, schedule after permission,
deterministic code archive."""

from __future__ import annotations

import json

import pytest
import yaml

from components.aws.rotation import HANDLERS, VPC_ACCESS_POLICY, lambda_archive
from offline.run import PROJECT_DIR
from tests.conftest import by_type, plan_raw
from tests.fixtures.refusal import refused, spec_problems


def statements(document: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(document)["Statement"]}


def test_rotation_role_policy_is_exact(prod_plan):
    secret_arn = by_type(prod_plan, "aws:secretsmanager/secret:Secret")["database-secret"].outputs["arn"]
    key_arn = by_type(prod_plan, "aws:kms/key:Key")["shared-key"].outputs["arn"]
    policy = statements(by_type(prod_plan, "aws:iam/rolePolicy:RolePolicy")["database-policy"].inputs["policy"])
    assert set(policy) == {"RotateDatabase", "RotateDatabaseKey", "RandomPassword", "Logs"}
    assert policy["RotateDatabase"]["Action"] == [
        "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"
    ]
    assert policy["RotateDatabase"]["Resource"] == [secret_arn]
    assert policy["RotateDatabaseKey"]["Resource"] == [key_arn]
    assert policy["RotateDatabaseKey"]["Condition"]["StringEquals"] == {
        "kms:ViaService": ["secretsmanager.us-east-1.amazonaws.com"], "kms:EncryptionContext:SecretARN": [secret_arn]
    }
    # The only "*": an action IAM grants on nothing else.
    assert policy["RandomPassword"] == {"Sid": "RandomPassword", "Effect": "Allow", "Action": ["secretsmanager:GetRandomPassword"], "Resource": "*"}
    assert policy["Logs"]["Resource"] == [
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/autolytiq-prod-rotate-database:log-stream:*"
    ]


def test_trust_is_lambda_for_this_account_only(prod_plan):
    role = by_type(prod_plan, "aws:iam/role:Role")["rotate-database-role"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_permission_schedule_and_function(prod_plan):
    secret_arn = by_type(prod_plan, "aws:secretsmanager/secret:Secret")["database-secret"].outputs["arn"]
    permission = by_type(prod_plan, "aws:lambda/permission:Permission")["database-invoke"]
    assert permission.inputs["principal"] == "secretsmanager.amazonaws.com"
    assert (permission.inputs["sourceAccount"], permission.inputs["sourceArn"]) == ("123456789012", secret_arn)
    rotation = by_type(prod_plan, "aws:secretsmanager/secretRotation:SecretRotation")["database-rotation"]
    assert rotation.inputs["rotationRules"] == {"scheduleExpression": "rate(30 days)", "duration": "4h"}
    assert rotation.inputs["rotateImmediately"] is False
    assert permission.urn in rotation.dependencies  # created after the permission
    function = by_type(prod_plan, "aws:lambda/function:Function")["database-function"]
    assert function.inputs["handler"] == HANDLERS["postgres-single"] == "rotation.postgres_single.handler"
    assert function.inputs["reservedConcurrentExecutions"] == 1
    assert function.inputs["sourceCodeHash"] == lambda_archive()[1]
    # Pulumi.prod.yaml's placeholder VPC (seed 002 names none): the function runs where the database is.
    assert function.inputs["vpcConfig"] == {"subnetIds": ["subnet-00000000000000001", "subnet-00000000000000002"],
                                            "securityGroupIds": ["sg-00000000000000001"]}
    assert "vpcConfig" not in by_type(prod_plan, "aws:lambda/function:Function")["jwt-function"].inputs
    generic = by_type(prod_plan, "aws:lambda/function:Function")["jwt-function"]
    assert generic.inputs["environment"]["variables"]["OVERLAP_SECONDS"] == str(24 * 3600)
    logs = by_type(prod_plan, "aws:cloudwatch/logGroup:LogGroup")["database-logs"]
    assert logs.inputs["retentionInDays"] == 365


def test_vpc_and_alternating_users(prod_raw):
    prod_raw["secrets"].append({"name": "db-admin", "description": "superuser", "classification": "critical", "rotation": {"kind": "manual", "days": 90}})
    prod_raw["operators"][0]["writes"].append("db-admin")  # a hand-rotated secret needs a writer
    prod_raw["secrets"][0]["rotation"] = {
        "kind": "postgres-alternating", "days": 30, "master_secret": "db-admin",
        "vpc": {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]},
    }
    plan = plan_raw(prod_raw, stack="prod")
    function = by_type(plan, "aws:lambda/function:Function")["database-function"]
    assert function.inputs["handler"] == "rotation.postgres_alternating.handler"
    assert function.inputs["vpcConfig"] == {"subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"]}
    (attachment,) = by_type(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").values()
    assert attachment.inputs["policyArn"] == VPC_ACCESS_POLICY
    policy = statements(by_type(plan, "aws:iam/rolePolicy:RolePolicy")["database-policy"].inputs["policy"])
    admin_arn = by_type(plan, "aws:secretsmanager/secret:Secret")["db-admin-secret"].outputs["arn"]
    assert policy["ReadDbAdmin"]["Resource"] == [admin_arn]
    assert policy["ReadDbAdmin"]["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    # db-admin is critical: its dedicated key lets the rotation role read it, nothing more.
    admin_key = {s["Sid"]: s for s in json.loads(by_type(plan, "aws:kms/key:Key")["db-admin-key"].inputs["policy"])["Statement"]}
    assert admin_key["ReadRotateDatabase"]["Action"] == ["kms:Decrypt"]


@pytest.mark.parametrize("rotation, message", [
    ({"kind": "postgres-alternating", "days": 30}, "kind postgres-alternating needs master_secret"),
    ({"kind": "manual", "days": 30, "overlap_hours": 4}, "overlap_hours is only for kind generic"),
    ({"kind": "postgres-alternating", "days": 30, "master_secret": "nope"}, "must name another AWS secret of this stack (got 'nope')"),
])
def test_rotation_spec_errors(prod_raw, rotation, message):
    from components.config import ConfigError, parse_stack_spec

    prod_raw["secrets"][0]["rotation"] = rotation
    with pytest.raises(ConfigError) as caught:
        parse_stack_spec(prod_raw, "Pulumi.prod.yaml")
    assert any(message in line and "secrets[0] (database).rotation" in line for line in caught.value.lines()), caught.value.lines()


def _spec_errors(raw) -> list[str]:
    return spec_problems(raw)


def test_generic_rotation_names_the_property_it_rotates(prod_plan):
    """The Lambda learns which declared property it rotates (rotation/contract.py's ROTATED_PROPERTY);
    a stack that names none keeps today's `value`/`previous` (no variable)."""
    from rotation.contract import PROPERTY_ENV

    functions = by_type(prod_plan, "aws:lambda/function:Function")
    assert functions["jwt-function"].inputs["environment"]["variables"][PROPERTY_ENV] == "secret"
    assert PROPERTY_ENV not in functions["database-function"].inputs["environment"]["variables"]


@pytest.mark.parametrize("change, where, message", [
    # Regression (#15): a generic rotation wrote `value` beside the declared `secret`: the synced key never changed.
    (lambda s: s[2]["rotation"].pop("property"), "secrets[2] (jwt).rotation.property", "writes 'value', which the secret does not declare"),
    # A Postgres rotation rebuilds url/dsn/connection_string; a property it cannot keep current is refused.
    (lambda s: s[0].update(properties=["username", "password", "jdbc_url"]), "secrets[0] (database).properties[2]", "jdbc_url"),
    (lambda s: s[0]["rotation"].update(property="password"), "secrets[0] (database).rotation", "property is only for kind generic"),
])
def test_a_rotation_that_leaves_a_declared_property_stale_is_refused(prod_raw, change, where, message):
    change(prod_raw["secrets"])
    lines = _spec_errors(prod_raw)
    assert any(f"secrets-platform:{where}" in line and message in line for line in lines), lines


# ----- a prod postgres rotation reaches its database: vpc, or a stated public database (#15) -----

NO_VPC = "needs the database's vpc (subnet_ids, security_group_ids) in prod"


def _problems(raw, stack="Pulumi.prod.yaml") -> list[str]:
    from components.config import ConfigError, parse_stack_spec

    try:
        parse_stack_spec(raw, stack)
    except ConfigError as error:
        return error.lines()
    return []


@pytest.mark.parametrize("kind", ["postgres-single", "postgres-alternating"])
def test_prod_postgres_rotation_without_vpc_is_refused(prod_raw, kind):
    prod_raw["secrets"].append({"name": "db-admin", "description": "superuser", "classification": "critical", "rotation": {"kind": "manual", "days": 90}})
    prod_raw["operators"][0]["writes"].append("db-admin")
    prod_raw["secrets"][0]["rotation"] = {"kind": kind, "days": 30, **({"master_secret": "db-admin"} if kind == "postgres-alternating" else {})}
    lines = _problems(prod_raw)
    assert lines == [f"Pulumi.prod.yaml: secrets-platform:secrets[0] (database).rotation.vpc: the {kind} rotation of 'database' {NO_VPC}: "
                     "a function outside the VPC cannot reach a private database; if the database is reachable without one, "
                     "set rotation.public_database to the reason"]


def test_a_stated_public_database_needs_no_vpc_and_the_function_runs_outside_one(prod_raw):
    prod_raw["secrets"][0]["rotation"] = {"kind": "postgres-single", "days": 30,
                                          "public_database": "publicly accessible RDS endpoint, TLS required, allow-list of NAT addresses"}
    assert _problems(prod_raw) == []
    plan = plan_raw(prod_raw, stack="prod")
    function = by_type(plan, "aws:lambda/function:Function")["database-function"]
    assert "vpcConfig" not in function.inputs
    assert not by_type(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")


@pytest.mark.parametrize("rotation, message", [
    ({"kind": "postgres-single", "days": 30, "public_database": "public endpoint",
      "vpc": {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]}}, "not both"),
    ({"kind": "generic", "days": 30, "public_database": "a public endpoint"}, "public_database is only for the postgres kinds"),
    ({"kind": "postgres-single", "days": 30, "public_database": "yes"}, "at least 10 characters"),
])
def test_public_database_is_a_reason_for_postgres_only(prod_raw, rotation, message):
    prod_raw["secrets"][0]["rotation"] = rotation
    lines = _problems(prod_raw)
    assert any(message in line and "secrets[0] (database).rotation" in line for line in lines), lines


def test_outside_prod_a_rotation_without_vpc_stays_allowed(prod_raw):
    prod_raw["environment"] = "dev"
    prod_raw["secrets"][0]["rotation"] = {"kind": "postgres-single", "days": 30}
    assert not any("rotation.vpc" in line for line in _problems(prod_raw, "Pulumi.dev.yaml"))


def test_prod_rotation_without_vpc_exits_2_without_a_traceback(tmp_path):
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    document["config"]["secrets-platform:secrets"][0]["rotation"].pop("vpc")
    stderr = refused(tmp_path / "Pulumi.prod.yaml", document)
    assert "secrets-platform:secrets[0] (database).rotation.vpc: the postgres-single rotation of 'database' needs" in stderr
