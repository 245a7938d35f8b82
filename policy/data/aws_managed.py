"""The AWS managed policies that grant broad secret or key access, as a compact index the pack ships
(aws_managed_broad.json), generated from moto's copy of all AWS managed policies and read with the pack's own
IAM document model. The pack reads only the JSON: moto is a dev dependency.

Regenerate: `.venv/bin/python -m policy.data.aws_managed` (tests/policy/test_aws_managed_index.py fails when the
committed index differs from what moto's copy gives).

A policy is broad when an Allow statement, not cancelled by a Deny of the same document and without a condition that
really narrows it, grants a probe action below on any customer secret, key or SSM parameter (Resource `*`, a wildcard
ARN, or NotResource). AWS narrows service-role policies to the service's own secrets and keys with conditions
(kms:ViaService, secretsmanager:ResourceTag/aws:secretsmanager:owningService, kms:GrantIsForAWSResource, ...). A
condition counts as narrowing only when it must hold (an equality or match operator, not IfExists, not ForAllValues)
with values that are not all wildcards; kms:ViaService further only when every value names one service (the region may
be a wildcard): the key is then used only through that service's API, whose own authorization (GetSecretValue on the
secret, for Secrets Manager) still applies. `*.amazonaws.com` names every service, so it narrows nothing.
SSM parameters count: ssm:GetParametersByPath returns every SecureString of a hierarchy decrypted (with the account's
aws/ssm key, usable by any principal of the account through SSM).
A Null condition requiring a tag or encryption-context key narrows (only resources the service tagged), and so does
StringLike "*" on such a key (the key must be present)."""

from __future__ import annotations

import json
from pathlib import Path

from documents.iam import Condition, Document, Statement, has_wildcard, matches, only_wildcards, parse
from policy.rules._iam_doc import cancelled

INDEX = Path(__file__).with_name("aws_managed_broad.json")
# Reading, changing or deleting any secret, or using or administering any key.
PROBES = {
    "secretsmanager": ("secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue", "secretsmanager:PutSecretValue",
                       "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret", "secretsmanager:PutResourcePolicy"),
    "kms": ("kms:Decrypt", "kms:ReEncryptFrom", "kms:CreateGrant", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey"),
    # Whole parameter hierarchies. GetParameter(s) by name are left out: AWS's minimum instance profile for Systems
    # Manager (AmazonSSMManagedInstanceCore) grants them on '*', and the pack must not block that vendor form.
    "ssm": ("ssm:GetParametersByPath",),
}
# An ARN of a customer's own secret and key, which a broad statement reaches.
PROBE_ARNS = {
    "secretsmanager": "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/database-AbCdEf",
    "kms": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "ssm": "arn:aws:ssm:us-east-1:111122223333:parameter/prod/database/password",
}


# Keys whose mere presence on the request narrows it: a tag or encryption-context key the service itself sets.
PRESENCE_KEYS = ("aws:resourcetag/", "secretsmanager:resourcetag/", "kms:encryptioncontext:")


def narrowing(c: Condition) -> bool:
    """Whether one condition really limits the statement (see the module's docstring)."""
    if c.unknown or not c.values:
        return False
    if c.operator == "null":  # {"Null": {key: "false"}}: the key must be present
        return not c.if_exists and c.values == ("false",) and c.key.startswith(PRESENCE_KEYS)
    if c.operator == "stringnotequals" and c.key == "aws:resourceaccount":  # other accounts' resources, never the caller's own
        return not c.if_exists and c.values == ("${aws:PrincipalAccount}",)
    if not c.narrows:
        return False
    if c.key == "kms:viaservice":
        return not any(has_wildcard(v.partition(".")[0]) for v in c.values)
    return not all(only_wildcards(v) for v in c.values) or c.key.startswith(PRESENCE_KEYS)


def really_narrows(s: Statement) -> bool:
    return any(narrowing(c) for c in s.conditions)


def broad_grants(doc: Document) -> list[str]:
    """The probe actions the document grants on any customer secret or key."""
    granted = []
    for service, actions in PROBES.items():
        arn = PROBE_ARNS[service]
        for action in actions:
            denied = any(s.allow is False and not s.conditions and s.covers(action)
                         and any(matches(r, arn) for r in s.resources) != s.not_resource for s in doc.statements)
            if denied:
                continue
            if any(s.allow and not really_narrows(s) and s.covers(action) and (s.not_resource or any(matches(r, arn) for r in s.resources))
                   and not (s.not_resource and any(matches(r, arn) for r in s.resources)) and not cancelled(doc, s)
                   for s in doc.statements):
                granted.append(action)
    return granted


def build() -> dict[str, list[str]]:
    """Policy name -> the probe actions it grants broadly, for every AWS managed policy in moto's copy."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # dev dependency, only to regenerate

    index = {}
    for name, policy in sorted(json.loads(aws_managed_policies_data).items()):
        if granted := broad_grants(parse(policy["Document"])):
            index[name] = granted
    return index


def render(index: dict[str, list[str]]) -> str:
    return json.dumps(index, indent=0, sort_keys=True) + "\n"


if __name__ == "__main__":
    INDEX.write_text(render(build()), encoding="utf-8")
    print(f"{INDEX}: {len(json.loads(INDEX.read_text()))} AWS managed policies grant broad secret or key access")
