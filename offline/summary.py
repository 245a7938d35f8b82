"""What a reviewer reads first: per secret its key, rotation and who can read or write it,
derived from the planned resources themselves (not the spec), so hand-added grants show too."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from offline.access import access_matrix
from offline.access.aws_model import SECRET
from offline.access.model import READ, WRITE
from offline.mocks import Registration

# Readers and writers as IAM identities (named by the workload their role serves); the full matrix,
# Kubernetes and Vault included, is `python -m offline.access`.
AWS_IDENTITIES = ("iam-role", "iam-user")


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


def secret_summaries(resources: list[Registration]) -> list[SecretSummary]:
    by_urn = {r.urn: r for r in resources}
    key_alias = {
        r.outputs.get("targetKeyId"): r.inputs.get("name") for r in resources if r.type == "aws:kms/alias:Alias"
    }
    key_names = {r.outputs.get("arn"): key_alias.get(r.outputs.get("keyId"), r.name) for r in resources if r.type == "aws:kms/key:Key"}
    matrix = access_matrix(resources)

    def principals(path: str, capability: str) -> tuple[str, ...]:
        # Effective access: the secret action and the key's consent, as the matrix decides it.
        return tuple(sorted({p.label for p in matrix.holders(f"aws:{path}", capability, AWS_IDENTITIES)}))

    summaries = []
    for r in resources:
        if r.type != SECRET:
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
                readers=principals(r.inputs.get("name", ""), READ),
                writers=principals(r.inputs.get("name", ""), WRITE),
            )
        )
    return sorted(summaries, key=lambda s: s.name)


def type_counts(resources: list[Registration]) -> dict[str, int]:
    return dict(sorted(Counter(r.type for r in resources if r.custom).items()))


def summary_dicts(resources: list[Registration]) -> list[dict]:
    return [asdict(s) for s in secret_summaries(resources)]
