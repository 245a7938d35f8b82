"""The AWS managed policies that grant broad secret or key access, as a compact index the pack ships
(aws_managed_broad.json), generated from moto's copy of all AWS managed policies and read with the pack's own
IAM document model. The pack reads only the JSON: moto is a dev dependency.

Regenerate: `.venv/bin/python -m policy.data.aws_managed` (tests/policy/test_aws_managed_index.py fails when the
committed index differs from what moto's copy gives).

A policy is broad when an Allow statement without conditions, not cancelled by a Deny of the same document, grants a
probe action below on any customer secret or key (Resource `*`, a wildcard secret/key ARN, or NotResource). Statements
with conditions are left out: AWS uses them to limit service-role policies to the service's own secrets and keys
(kms:ViaService, secretsmanager:ResourceTag/aws:secretsmanager:owningService, ...)."""

from __future__ import annotations

import json
from pathlib import Path

from documents.iam import Document, matches, parse
from policy.rules._iam_doc import cancelled

INDEX = Path(__file__).with_name("aws_managed_broad.json")
# Reading, changing or deleting any secret, or using or administering any key.
PROBES = {
    "secretsmanager": ("secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue", "secretsmanager:PutSecretValue",
                       "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret", "secretsmanager:PutResourcePolicy"),
    "kms": ("kms:Decrypt", "kms:ReEncryptFrom", "kms:CreateGrant", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey"),
}
# An ARN of a customer's own secret and key, which a broad statement reaches.
PROBE_ARNS = {
    "secretsmanager": "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/database-AbCdEf",
    "kms": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}


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
            if any(s.allow and not s.conditions and s.covers(action) and (s.not_resource or any(matches(r, arn) for r in s.resources))
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
