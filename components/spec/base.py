"""What every part of the stack spec shares: the base model, the namespaces, environments and
classifications, the constrained string types and durations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

NAMESPACE = "secrets-platform"
# Initial secret values live in their own namespace, set with `pulumi config set --secret`,
# so the spec itself never holds a value: `initial-value:<secret name>`.
INITIAL_VALUE_NAMESPACE = "initial-value"
DATABASE_PASSWORD_NAMESPACE = "database-password"


class Spec(BaseModel):
    """Base of every spec model: unknown keys refused, values frozen, attribute docstrings in the schema."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Environment(str, Enum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class Classification(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class ClassPolicy:
    """What a classification demands (EONPRO seed 003)."""

    max_rotation_days: int | None  # None: rotation not required
    dedicated_key: bool


CLASS_POLICY: dict[Classification, ClassPolicy] = {
    Classification.CRITICAL: ClassPolicy(max_rotation_days=365, dedicated_key=True),
    Classification.HIGH: ClassPolicy(max_rotation_days=90, dedicated_key=False),
    Classification.MEDIUM: ClassPolicy(max_rotation_days=180, dedicated_key=False),
    Classification.LOW: ClassPolicy(max_rotation_days=None, dedicated_key=False),
}

# The key every non-critical secret without an explicit `key` is encrypted with.
SHARED_KEY_NAME = "shared"

Backend = Literal["aws", "vault", "azure", "gcp"]
# Secret settings only Secrets Manager has; the other backends refuse them.
AWS_ONLY_FIELDS = ("key", "replica_regions", "recovery_window_days", "initial_value")

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")]
DnsLabel = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
TagValue = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_ .:/=+\-@]{0,256}$")]
TagKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:/=+\-@]{1,128}$")]
MountPath = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]*(/[a-z0-9_\-]+)*$")]
HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://[A-Za-z0-9.\-]+(:\d+)?(/[A-Za-z0-9._\-/]*)?$")]

_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
Duration = Annotated[str, StringConstraints(pattern=r"^\d+(s|m|h|d)$")]


def seconds(duration: str) -> int:
    """`1h` -> 3600: Vault's TTL units, one place for the conversion."""
    match = _DURATION.match(duration)
    if not match:
        raise ValueError(f"not a duration: {duration}")
    return int(match.group(1)) * _DURATION_SECONDS[match.group(2)]
