"""What a reviewer reads first: per secret its key, rotation and who can read or write it,
derived from the planned resources themselves (not the spec), so hand-added grants show too."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase

from offline.mocks import Registration

SECRET_TYPE = "aws:secretsmanager/secret:Secret"
READ_ACTION = "secretsmanager:GetSecretValue"
WRITE_ACTION = "secretsmanager:PutSecretValue"


@dataclass(frozen=True)
class SecretSummary:
    name: str
    path: str
    arn: str
    classification: str
    key: str
    rotation: str
    replicas: tuple[str, ...]
    protected: bool
    readers: tuple[str, ...]
    writers: tuple[str, ...]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def _allowed(document: str | dict, action: str, resource: str) -> bool:
    doc = json.loads(document) if isinstance(document, str) else document
    for statement in _as_list(doc.get("Statement")):
        if statement.get("Effect") != "Allow":
            continue
        if any(fnmatchcase(action.lower(), a.lower()) for a in _as_list(statement.get("Action"))) and any(
            fnmatchcase(resource, r) for r in _as_list(statement.get("Resource"))
        ):
            return True
    return False


def secret_summaries(resources: list[Registration]) -> list[SecretSummary]:
    by_urn = {r.urn: r for r in resources}
    key_alias = {
        r.outputs.get("targetKeyId"): r.inputs.get("name") for r in resources if r.type == "aws:kms/alias:Alias"
    }
    key_names = {r.outputs.get("arn"): key_alias.get(r.outputs.get("keyId"), r.name) for r in resources if r.type == "aws:kms/key:Key"}
    # Name principals by the workload their role serves, when our components tagged it.
    workload_of = {r.inputs.get("name"): (r.inputs.get("tags") or {}).get("workload") for r in resources if r.type == "aws:iam/role:Role"}
    policies = [
        (workload_of.get(r.inputs.get("role")) or r.inputs.get("role"), r.inputs.get("policy"))
        for r in resources
        if r.type == "aws:iam/rolePolicy:RolePolicy" and isinstance(r.inputs.get("policy"), str)
    ]

    def principals(arn: str, key_arn: str, action: str, key_action: str) -> tuple[str, ...]:
        # Effective access needs both the secret action and decrypt on its key.
        return tuple(
            sorted(role for role, doc in policies if _allowed(doc, action, arn) and _allowed(doc, key_action, key_arn))
        )

    summaries = []
    for r in resources:
        if r.type != SECRET_TYPE:
            continue
        tags, arn, key_arn = r.inputs.get("tags") or {}, r.outputs.get("arn", ""), r.inputs.get("kmsKeyId", "")
        days = tags.get("rotation-days")
        component = by_urn.get(r.parent)
        summaries.append(
            SecretSummary(
                name=component.name if component else r.name,
                path=r.inputs.get("name", ""),
                arn=arn,
                classification=tags.get("classification", "?"),
                key=key_names.get(key_arn, key_arn or "aws/secretsmanager"),
                rotation=f"{tags.get('rotation', 'none')}" + (f" every {days} days" if days else ""),
                replicas=tuple(rep.get("region", "?") for rep in r.inputs.get("replicas") or []),
                protected=r.protect,
                readers=principals(arn, key_arn, READ_ACTION, "kms:Decrypt"),
                writers=principals(arn, key_arn, WRITE_ACTION, "kms:GenerateDataKey"),
            )
        )
    return sorted(summaries, key=lambda s: s.name)


def type_counts(resources: list[Registration]) -> dict[str, int]:
    return dict(sorted(Counter(r.type for r in resources if r.custom).items()))


def summary_dicts(resources: list[Registration]) -> list[dict]:
    return [asdict(s) for s in secret_summaries(resources)]
