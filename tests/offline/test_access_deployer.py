"""The deployer that writes initial values is a principal of the access matrix: it writes exactly those
secrets (the secret's resource policy: PutSecretValue; the key policy: kms:GenerateDataKey) and reads none.
Even an administrator's Secrets Manager rights do not let it read: the key policy grants it no kms:Decrypt and
the account root no cryptographic use, so KMS refuses what GetSecretValue asks (#15)."""

from __future__ import annotations

import copy
import json
from functools import cache

from offline.access.matrix import access_matrix
from offline.access.model import BLOCKED, EFFECTIVE, READ, WRITE
from tests.conftest import by_type, plan_raw, stack_namespace

DEPLOYER = "arn:aws:iam::123456789012:role/pulumi-deployer"
SMTP = "aws:autolytiq/prod/smtp"


@cache
def deployer_plan():
    raw = copy.deepcopy(stack_namespace("prod"))
    raw["aws"]["deployer_role_arn"] = DEPLOYER
    raw["secrets"][5]["initial_value"] = "config"  # smtp
    return plan_raw(raw, stack="prod", extra={"initial-value:smtp": '{"user": "x"}'}, secret_keys=["initial-value:smtp"])


def test_the_deployer_writes_its_initial_values_and_reads_nothing():
    plan = deployer_plan()
    matrix = access_matrix(plan.resources, plan.stack)
    principal = f"aws:{DEPLOYER}"
    assert principal in matrix.principals
    entries = [e for e in matrix.entries if e.principal == principal]
    assert {(e.secret, e.capability, e.status) for e in entries} == {(SMTP, WRITE, EFFECTIVE)}
    (write,) = entries
    assert write.chains[0][0].endswith("secretsmanager:PutSecretValue") and "kms:GenerateDataKey" in write.chains[0][1]
    # The grants themselves: exact PutSecretValue, data keys only, nothing that reads.
    (policy,) = [json.loads(r.inputs["policy"]) for r in by_type(plan, "aws:secretsmanager/secretPolicy:SecretPolicy").values()
                 if DEPLOYER in json.dumps(r.inputs)]
    (statement,) = [s for s in policy["Statement"] if s["Principal"] == {"AWS": DEPLOYER}]
    assert statement["Sid"] == "DeployerWriteInitialValue" and "secretsmanager:GetSecretValue" not in statement["Action"]
    named = [s for r in by_type(plan, "aws:kms/key:Key").values() for s in json.loads(r.inputs["policy"])["Statement"]
             if s["Principal"] == {"AWS": DEPLOYER}]
    assert named and all(s["Action"] == ["kms:GenerateDataKey"] for s in named)


def test_the_deployer_cannot_read_even_with_every_secrets_manager_right():
    """Its own IAM is outside the plan; give it secretsmanager:* on every secret, as an administrator has."""
    plan = deployer_plan()
    role = {"type": "aws:iam/role:Role", "urn": "urn:pulumi:prod::x::aws:iam/role:Role::pulumi-deployer", "name": "pulumi-deployer",
            "props": {"name": "pulumi-deployer"}, "outputs": {"arn": DEPLOYER}}
    admin = {"type": "aws:iam/rolePolicy:RolePolicy", "urn": "urn:pulumi:prod::x::aws:iam/rolePolicy:RolePolicy::deployer-admin",
             "name": "deployer-admin", "props": {"role": "pulumi-deployer", "policy": json.dumps(
                 {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:*", "kms:*"], "Resource": "*"}]})}}
    matrix = access_matrix([*plan.resources, role, admin], plan.stack)
    deployer = next(p for p in matrix.principals.values() if p.kind == "iam-role" and p.label == "pulumi-deployer")
    reads = [e for e in matrix.entries if e.principal == deployer.id and e.capability == READ and e.secret.startswith("aws:autolytiq/")]
    assert reads and all(e.status == BLOCKED for e in reads)  # GetSecretValue is allowed by IAM; KMS refuses Decrypt
    assert {s for s, c in matrix.access(deployer.id) if c == READ} == set()
    assert (SMTP, WRITE) in matrix.access(deployer.id)
