"""Secrets Manager rules: a compliant secret as our components plan it, one mutation per violation,
rotation matched by ARN and name, schedules (rate and cron), unknowns at preview, our own planned output,
and a canary."""

from __future__ import annotations

import math

import pytest

from components import config
from policy.rules import aws_secrets
from policy.rules.aws_secrets import NEVER, cron_max_interval, schedule
from tests.conftest import CANARY
from tests.policy.rules.builders import (
    ACCOUNT,
    DELETE,
    UNKNOWN,
    check_metadata,
    decided,
    malformed,
    mutated,
    own_stacks,
    own_types,
    resource,
    run,
    undecided_ids,
)

KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0d4c8b1e-5f6a-4b7c-8d9e-0a1b2c3d4e5f"
JWT_KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/8c8b1d4d-53e5-1f2a-d089-e28a7df7ff99"
LAMBDA_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:emr-prod-rotation"
ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:emr/prod/database-AbCdEf"


def secret(name: str = "database", classification: str = "high", **props) -> dict:
    tags = {"environment": "prod", "owner": "emr-platform", "classification": classification, "managed-by": "secrets-platform",
            "rotation": "manual", "rotation-days": "90"}
    defaults = {"name": f"emr/prod/{name}", "description": "PostgreSQL credentials", "kmsKeyId": KEY_ARN, "recoveryWindowInDays": 30,
                "replicas": [], "forceOverwriteReplicaSecret": False, "tags": tags}
    return resource(aws_secrets.SECRET, f"{name}-secret", **{**defaults, **props})


def rotation(secret_id: str = "emr/prod/database", name: str = "database-rotation", **rules) -> dict:
    return resource(aws_secrets.ROTATION, name, secretId=secret_id, rotationLambdaArn=LAMBDA_ARN,
                    rotationRules=rules or {"automaticallyAfterDays": 30})


def permission(**props) -> dict:
    defaults = {"action": "lambda:InvokeFunction", "function": LAMBDA_ARN, "principal": "secretsmanager.amazonaws.com", "sourceAccount": ACCOUNT}
    return resource(aws_secrets.PERMISSION, "rotation-invoke", **{**defaults, **props})


def test_compliant_fixtures_are_silent():
    critical = secret("jwt", "critical", kmsKeyId=JWT_KEY_ARN)
    fixtures = [secret(), critical, secret("smtp", "medium"), secret("flags", "low", kmsKeyId=None), rotation(),
                permission(), permission(sourceAccount=None, sourceArn=ARN),
                permission(principal="events.amazonaws.com", sourceAccount=None)]
    assert run(aws_secrets, *fixtures) == []


def test_rules_are_silent_on_our_own_output():
    assert {aws_secrets.SECRET, aws_secrets.ALIAS} <= own_types()
    for resources in own_stacks():
        assert run(aws_secrets, *resources) == []


def test_class_policy_matches_the_components():
    assert aws_secrets.MAX_ROTATION_DAYS == {c.value: p.max_rotation_days for c, p in config.CLASS_POLICY.items()}
    assert aws_secrets.DEDICATED_KEY_CLASSES == {c.value for c, p in config.CLASS_POLICY.items() if p.dedicated_key}
    assert aws_secrets.MIN_PROD_RECOVERY_DAYS == config.MIN_PROD_RECOVERY_WINDOW_DAYS


# --- one mutation per violation of a single-resource rule ------------------------------------------

def _cmk_message(field: str, cls: str) -> str:
    return (f"{field} is not a customer-managed key: a {cls} secret must not use aws/secretsmanager, which any "
            "principal of the account with Secrets Manager access can use; set a customer-managed KMS key")


def _rotation_message(why: str, cls: str = "high", days: int = 90) -> str:
    return (f"{why}: a {cls} secret must rotate at least every {days} days: add a SecretRotation within that, "
            f"or tag rotation=manual with rotation-days <= {days}")


def _recovery_message(what: str) -> str:
    return f"recoveryWindowInDays is {what}: a prod secret needs at least 7 days to undo a deletion; remove it (default 30) or set 7-30"


NO_DECLARED_ROTATION = "no SecretRotation targets it and its tags declare no rotation"
MANUAL_WITHOUT_DAYS = "its tags declare rotation=manual without a whole number of rotation-days"

MUTATIONS = [
    *((aws_secrets.SECRET_CUSTOMER_MANAGED_KEY, secret(classification=cls), changes, _cmk_message(field, cls))
      for cls in ("high", "critical") for changes, field in [
          ({"kmsKeyId": DELETE}, "kmsKeyId"),
          ({"kmsKeyId": "alias/aws/secretsmanager"}, "kmsKeyId"),
          ({"kmsKeyId": f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/secretsmanager"}, "kmsKeyId"),
          ({"replicas": [{"region": "us-west-2"}]}, "replicas[0].kmsKeyId")]),
    (aws_secrets.SECRET_PROD_RECOVERY_WINDOW, secret(), {"recoveryWindowInDays": 0}, _recovery_message("0 (force delete: a deletion cannot be undone)")),
    (aws_secrets.SECRET_PROD_RECOVERY_WINDOW, secret(), {"recoveryWindowInDays": 3}, _recovery_message("3 days")),
    (aws_secrets.SECRET_PROD_RECOVERY_WINDOW, secret(), {"recoveryWindowInDays": 3, "tags.environment": "Production"}, _recovery_message("3 days")),
    (aws_secrets.SECRET_ROTATION_WITHIN_CLASS, secret(), {"tags.rotation": DELETE, "tags.rotation-days": DELETE}, _rotation_message(NO_DECLARED_ROTATION)),
    (aws_secrets.SECRET_ROTATION_WITHIN_CLASS, secret(), {"tags.rotation": "none", "tags.rotation-days": DELETE}, _rotation_message(NO_DECLARED_ROTATION)),
    (aws_secrets.SECRET_ROTATION_WITHIN_CLASS, secret(), {"tags.rotation-days": DELETE}, _rotation_message(MANUAL_WITHOUT_DAYS)),
    (aws_secrets.SECRET_ROTATION_WITHIN_CLASS, secret(), {"tags.rotation-days": "ninety"}, _rotation_message(MANUAL_WITHOUT_DAYS)),
    (aws_secrets.SECRET_ROTATION_WITHIN_CLASS, secret(), {"tags.rotation-days": "120"}, _rotation_message("its tags declare rotation=manual every 120 days")),
    # An automated kind needs its SecretRotation, whatever the days (regression: the tag alone used to pass).
    (aws_secrets.SECRET_ROTATION_WITHIN_CLASS, secret(), {"tags.rotation": "generic", "tags.rotation-days": "91"},
     _rotation_message("its tags declare rotation=generic, which a rotation function performs, but no SecretRotation targets it")),
    (aws_secrets.SECRET_ROTATION_WITHIN_CLASS, secret(), {"tags.rotation": "postgres-single", "tags.rotation-days": "30"},
     _rotation_message("its tags declare rotation=postgres-single, which a rotation function performs, but no SecretRotation targets it")),
    # The limit follows the class.
    (aws_secrets.SECRET_ROTATION_WITHIN_CLASS, mutated(secret(classification="medium"), {"tags.rotation-days": "180"}),
     {"tags.rotation-days": "181"}, _rotation_message("its tags declare rotation=manual every 181 days", "medium", 180)),
    (aws_secrets.SECRET_ROTATION_WITHIN_CLASS, secret("jwt", "critical", kmsKeyId=JWT_KEY_ARN), {"tags.rotation-days": "366"},
     _rotation_message("its tags declare rotation=manual every 366 days", "critical", 365)),
    *((aws_secrets.ROTATION_LAMBDA_PERMISSION_SCOPED, permission(), {"principal": principal, "sourceAccount": DELETE},
       f"lets {principal} invoke the function without sourceAccount or sourceArn: any account's secrets could call your rotation "
       "function (confused deputy); set sourceAccount or sourceArn") for principal in ("secretsmanager.amazonaws.com", "*")),
    *((aws_secrets.SECRET_CLASSIFIED, secret(), {"tags.classification": value},
       "tags.classification is missing or not one of critical, high, medium, low: the class decides the key, rotation and recovery rules; "
       "tag the secret") for value in (DELETE, "secret", "")),
]


@pytest.mark.parametrize(("rule", "compliant", "changes", "expected"), MUTATIONS, ids=lambda v: getattr(v, "name", None))
def test_each_mutation_fires_its_rule(rule, compliant, changes, expected):
    assert run(aws_secrets, compliant) == []
    assert decided(run(aws_secrets, mutated(compliant, changes)), rule.id) == [expected]


@pytest.mark.parametrize(("compliant", "changes"), [
    *((secret(classification="medium"), changes)
      for changes in ({"kmsKeyId": DELETE}, {"kmsKeyId": "alias/aws/secretsmanager"}, {"replicas": [{"region": "us-west-2"}]})),
    (secret(), {"recoveryWindowInDays": 0, "tags.environment": "dev"}),
    (secret(), {"recoveryWindowInDays": 3, "tags.environment": "dev"}),
    (secret(), {"recoveryWindowInDays": DELETE}),  # the default is 30
    (secret(classification="medium"), {"tags.rotation-days": "180"}),
    (secret(classification="low"), {"tags.rotation": "none"}),
    (permission(), {"sourceAccount": DELETE, "sourceArn": ARN}),
    (permission(), {"principal": "events.amazonaws.com", "sourceAccount": DELETE}),
])
def test_changes_within_the_rules_stay_silent(compliant, changes):
    """A medium secret may use the AWS managed key, dev may force-delete, the class decides the rotation limit, and a
    permission for another service or bound by sourceArn is scoped."""
    assert run(aws_secrets, mutated(compliant, changes)) == []


# --- SECRET_CRITICAL_DEDICATED_KEY ----------------------------------------------------------------

def test_critical_secret_sharing_its_key():
    findings = run(aws_secrets, secret("jwt", "critical"), secret())
    assert decided(findings, aws_secrets.SECRET_CRITICAL_DEDICATED_KEY.id) == ["kmsKeyId is also the key of database-secret: a critical secret needs a dedicated "
                                              "customer-managed key, so its key policy grants no one else; give it its own key"]
    # The same key by alias (resolved through the stack's Alias) and by bare id.
    alias = resource(aws_secrets.ALIAS, "shared-alias", name="alias/emr-prod/shared", targetKeyId=KEY_ARN.rpartition("/")[2])
    for ref in ("alias/emr-prod/shared", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/emr-prod/shared", KEY_ARN.rpartition("/")[2]):
        assert decided(run(aws_secrets, secret("jwt", "critical", kmsKeyId=ref), secret(), alias), aws_secrets.SECRET_CRITICAL_DEDICATED_KEY.id)
    # A high secret may share; a critical one with its own key is fine.
    assert decided(run(aws_secrets, secret("jwt", "high"), secret()), aws_secrets.SECRET_CRITICAL_DEDICATED_KEY.id) == []
    assert decided(run(aws_secrets, secret("jwt", "critical", kmsKeyId=JWT_KEY_ARN), secret()), aws_secrets.SECRET_CRITICAL_DEDICATED_KEY.id) == []




@pytest.mark.parametrize("secret_id", ["emr/prod/database", ARN])
def test_a_secret_rotation_matched_by_name_or_arn_decides(secret_id):
    untagged = mutated(secret(), {"tags.rotation": DELETE, "tags.rotation-days": DELETE})
    assert run(aws_secrets, untagged, rotation(secret_id)) == []
    messages = decided(run(aws_secrets, secret(), rotation(secret_id, automaticallyAfterDays=120)), aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id)
    assert messages == ["SecretRotation database-rotation rotates every 120 days (rotationRules): a high secret must rotate at least every "
                        "90 days: add a SecretRotation within that, or tag rotation=manual with rotation-days <= 90"]
    # Another secret's rotation does not count; nor does a name that only shares a prefix.
    for other in ("emr/prod/database-replica", ARN.replace("database-AbCdEf", "database-replica-AbCdEf"), ARN.replace("database", "db")):
        assert decided(run(aws_secrets, untagged, rotation(other)), aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id)


@pytest.mark.parametrize(("rules", "rotates"), [
    ({"scheduleExpression": "rate(100 days)"}, "every 100 days"),
    ({"scheduleExpression": "cron(0 8 1 */4 ? *)"}, "every 123 days"),
    ({"scheduleExpression": "cron(0 8 ? * MON#1 *)"}, None),
    ({"automaticallyAfterDays": 60, "scheduleExpression": "rate(180 days)"}, "every 180 days"),
])
def test_schedules_are_read_conservatively(rules, rotates):
    messages = decided(run(aws_secrets, secret(), rotation(**rules)), aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id)
    assert messages == ([f"SecretRotation database-rotation rotates {rotates} (rotationRules): a high secret must rotate at least every 90 days: "
                         "add a SecretRotation within that, or tag rotation=manual with rotation-days <= 90"] if rotates else [])


def test_a_disabled_rotation_does_not_rotate():
    disabled = resource(aws_secrets.ROTATION, "off", secretId="emr/prod/database", rotationEnabled=False)
    assert decided(run(aws_secrets, secret(), disabled), aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id) == [
        "SecretRotation off rotates never (rotationEnabled is false): a high secret must rotate at least every 90 days: "
        "add a SecretRotation within that, or tag rotation=manual with rotation-days <= 90"]


@pytest.mark.parametrize(("expression", "days"), [
    ("0 0 1 * ? *", 31), ("0 16 1,15 * ? *", 17), ("0 0 1 */3 ? *", 92), ("0 0 ? * MON *", 7), ("0 0 ? * MON-FRI *", 3),
    ("0 0 ? * 2#1 *", 35), ("0 0 ? * 6L *", 35), ("0 0 L * ? *", 31), ("0 0 LW * ? *", 33), ("0 0 15W * ? *", 32),
    ("0 0 31 * ? *", 61), ("0 0 29 2 ? *", 1461), ("0 0 1 JAN ? *", 366), ("0 0 30 2 ? *", math.inf),
])
def test_cron_max_interval(expression, days):
    assert cron_max_interval(expression) == days


@pytest.mark.parametrize("expression", ["0 0 1 1 ? 2030", "0 0 * * * *", "0 0 ? * MON#6 *", "0 0 1 13 ? *", "0 0 1 *", "0 0 5-1 * ? *", "0 0 1/0 * ? *"])
def test_cron_expressions_not_understood_are_undecided(expression):
    assert cron_max_interval(expression) is None
    findings = run(aws_secrets, secret(), rotation(scheduleExpression=f"cron({expression})"))
    assert not decided(findings) and undecided_ids(findings) == {aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id}


def test_schedule_reader():
    assert schedule(rotation(scheduleExpression="rate(12 hours)")).days == 0.5
    assert schedule(rotation(scheduleExpression="rate(1 day)")).days == 1
    assert schedule(resource(aws_secrets.ROTATION, "r", secretId="x", rotationRules={})).days == NEVER
    assert schedule(rotation(scheduleExpression="every full moon")) == (None, "rotationRules.scheduleExpression is not a rate() or cron() "
                                                                           "expression this rule can read")


# --- unknown at preview ------------------------------------------------------------------------

@pytest.mark.parametrize(("rule_ids", "fixtures"), [
    ({aws_secrets.SECRET_CUSTOMER_MANAGED_KEY.id}, [secret(kmsKeyId=UNKNOWN)]),
    ({aws_secrets.SECRET_CUSTOMER_MANAGED_KEY.id}, [secret(replicas=UNKNOWN)]),
    ({aws_secrets.SECRET_CUSTOMER_MANAGED_KEY.id, aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id, aws_secrets.SECRET_CLASSIFIED.id}, [mutated(secret(kmsKeyId=None), {"tags.classification": UNKNOWN})]),
    ({aws_secrets.SECRET_CUSTOMER_MANAGED_KEY.id, aws_secrets.SECRET_CRITICAL_DEDICATED_KEY.id}, [secret("jwt", "critical", kmsKeyId=UNKNOWN), secret()]),
    ({aws_secrets.SECRET_CUSTOMER_MANAGED_KEY.id, aws_secrets.SECRET_CRITICAL_DEDICATED_KEY.id}, [secret("jwt", "critical", kmsKeyId=JWT_KEY_ARN), secret(kmsKeyId=UNKNOWN)]),
    ({aws_secrets.SECRET_CRITICAL_DEDICATED_KEY.id}, [secret("jwt", "critical", kmsKeyId="alias/emr-prod/jwt"), secret(kmsKeyId="alias/emr-prod/shared"),
                     resource(aws_secrets.ALIAS, "jwt-alias", name="alias/emr-prod/jwt", targetKeyId=UNKNOWN),
                     resource(aws_secrets.ALIAS, "shared-alias", name="alias/emr-prod/shared", targetKeyId=UNKNOWN)]),
    ({aws_secrets.SECRET_PROD_RECOVERY_WINDOW.id}, [secret(recoveryWindowInDays=UNKNOWN)]),
    ({aws_secrets.SECRET_PROD_RECOVERY_WINDOW.id}, [mutated(secret(recoveryWindowInDays=0), {"tags.environment": UNKNOWN})]),
    ({aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id}, [mutated(secret(), {"tags.rotation-days": UNKNOWN})]),
    ({aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id}, [secret(), rotation(UNKNOWN, automaticallyAfterDays=UNKNOWN)]),
    ({aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id}, [secret(), resource(aws_secrets.ROTATION, "r", secretId="emr/prod/database", rotationRules=UNKNOWN)]),
    ({aws_secrets.ROTATION_LAMBDA_PERMISSION_SCOPED.id}, [permission(principal=UNKNOWN, sourceAccount=None)]),
])
def test_unknown_parts_are_undecided_not_silent(rule_ids, fixtures):
    findings = run(aws_secrets, *fixtures)
    assert not decided(findings) and undecided_ids(findings) == rule_ids


def test_a_rotation_of_an_unknown_secret_is_undecided_only_where_it_could_change_the_verdict():
    """At preview a new secret's ARN is unknown, so its SecretRotation cannot be matched."""
    untagged = mutated(secret(), {"tags.rotation": DELETE, "tags.rotation-days": DELETE})
    unmatched = rotation(UNKNOWN)  # 30 days: would satisfy any class
    findings = run(aws_secrets, untagged, unmatched)
    assert not decided(findings) and [f.message for f in findings] == [
        "could not decide: the secretId of SecretRotation database-rotation (it may target this secret) is unknown at preview"]
    # Tags already declare a compliant rotation and the unknown rotation is within the class: nothing to decide.
    assert run(aws_secrets, secret(), unmatched) == []
    # Neither the tags nor any rotation could satisfy the class: decided.
    assert decided(run(aws_secrets, untagged, rotation(UNKNOWN, automaticallyAfterDays=365)), aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id)
    # An unknown secret name (auto-named, or a name prefix) cannot be matched either.
    nameless = mutated(secret(), {"tags.rotation": DELETE})
    del nameless["props"]["name"]
    assert undecided_ids(run(aws_secrets, nameless, rotation())) == {aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id}
    nameless["props"]["namePrefix"] = "emr/prod/data"
    assert undecided_ids(run(aws_secrets, nameless, rotation())) == {aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id}
    nameless["props"]["namePrefix"] = "emr/prod/cache"  # cannot be the rotation's secret
    assert decided(run(aws_secrets, nameless, rotation()), aws_secrets.SECRET_ROTATION_WITHIN_CLASS.id)


# --- malformed, canary, metadata ---------------------------------------------------------------

def test_malformed_props_never_crash():
    for fixture in (secret(replicas=[{"region": "us-west-2", "kmsKeyId": KEY_ARN}]), rotation(), permission(),
                    resource(aws_secrets.ALIAS, "a", name="alias/x", targetKeyId="k")):
        for variant in malformed(fixture):
            assert all(isinstance(f.message, str) for f in run(aws_secrets, variant, secret("jwt", "critical"), rotation()))


def test_no_message_echoes_a_secret_value():
    fixtures = [secret(secretString=CANARY, kmsKeyId=None, recoveryWindowInDays=0, description=CANARY),
                mutated(secret("jwt", "critical", secretString=CANARY, kmsKeyId="alias/aws/secretsmanager"), {"tags.rotation-days": CANARY}),
                mutated(secret("x", secretString=CANARY), {"tags.classification": CANARY, "tags.owner": CANARY}),
                rotation("emr/prod/database", scheduleExpression=f"cron({CANARY})"),
                mutated(secret("v", secretString=CANARY), {"tags.rotation": CANARY}),
                permission(sourceAccount=None, qualifier=CANARY)]
    findings = run(aws_secrets, *fixtures)
    assert len({f.rule_id for f in findings}) == 5 and not any(CANARY in f.message for f in findings)


def test_rule_metadata():
    check_metadata(aws_secrets.RULES, ("SP-SM-",))
