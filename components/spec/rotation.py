"""A secret's rotation: the declared kind and cadence, and what each backend can run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from components.spec.base import Name, Spec
from components.spec.schedule import check_schedule_expression
from components.spec.errors import Problem
from rotation.contract import PROPERTY_NAME, problems

if TYPE_CHECKING:
    from components.spec.stack import StackSpec

ROTATION_KINDS = ("none", "manual", "generic", "postgres-single", "postgres-alternating")
RotationKind = Literal["none", "manual", "generic", "postgres-single", "postgres-alternating"]
# Rotation kinds that run a Lambda (the others are cadences for people).
AUTOMATED_ROTATION = ("generic", "postgres-single", "postgres-alternating")
# Backends other than AWS run no rotation function: a cadence for people (with a notification where the
# backend has one), or none.
MANUAL_ROTATION_KINDS = ("none", "manual")


class VpcSpec(Spec):
    subnet_ids: tuple[Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8,17}$")], ...] = Field(min_length=1)
    security_group_ids: tuple[Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8,17}$")], ...] = Field(min_length=1)


class RotationSpec(Spec):
    kind: RotationKind
    days: int | None = Field(default=None, ge=1, le=1000)
    schedule: str | None = None
    window: Annotated[str, StringConstraints(pattern=r"^([1-9]|1\d|2[0-4])h$")] | None = None
    """How long AWS may take to run the rotation once due."""
    overlap_hours: int | None = Field(default=None, ge=1, le=720)
    """generic: how long the previous value stays valid beside the new one (default 24)."""
    master_secret: Name | None = None
    """postgres-alternating: the secret holding the superuser that rotates the two users."""
    vpc: VpcSpec | None = None
    """The database's VPC: the rotation function runs in these subnets. Required for the postgres kinds in
    prod unless `public_database` says the database is reachable without one."""
    public_database: Annotated[str, StringConstraints(min_length=10, max_length=300)] | None = None
    """postgres kinds: the database is reachable from outside any VPC (e.g. a publicly accessible endpoint
    with TLS and an allow-list), and why: the reason is shown in review. The function then runs outside
    any VPC. Without `vpc` or this, a prod postgres rotation is refused: a function outside the database's
    VPC cannot reach a private database, and fails only when it first runs (#15)."""

    @field_validator("schedule")
    @classmethod
    def _schedule_expression(cls, value: str | None) -> str | None:
        if value is not None:
            check_schedule_expression(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RotationSpec:
        if self.days is not None and self.schedule is not None:
            raise ValueError("set either days or schedule, not both")
        if self.kind == "none" and (self.days is not None or self.schedule is not None or self.window is not None):
            raise ValueError("kind none takes no days, schedule or window")
        if self.property is not None and self.kind != "generic":
            raise ValueError("property is only for kind generic (the postgres kinds write what rotation/contract.py says)")
        if self.overlap_hours is not None and self.kind != "generic":
            raise ValueError("overlap_hours is only for kind generic")
        if (self.master_secret is not None) != (self.kind == "postgres-alternating"):
            raise ValueError("kind postgres-alternating needs master_secret (and only it takes one)")
        if self.vpc is not None and not self.kind.startswith("postgres"):
            raise ValueError("vpc is only for the postgres kinds (the function reaches the database)")
        if self.public_database is not None and not self.kind.startswith("postgres"):
            raise ValueError("public_database is only for the postgres kinds (the function reaches the database)")
        if self.vpc is not None and self.public_database is not None:
            raise ValueError("set either vpc (a private database) or public_database (reachable without one), not both")
        return self

    @property
    def schedule_expression(self) -> str:
        return self.schedule or f"rate({self.days} days)"

    # Declared last: in the class body below it, `property` names this field, not the builtin.
    property: Annotated[str, StringConstraints(pattern=PROPERTY_NAME.pattern)] | None = None
    """generic: the property it rotates (default `value`, its overlap list in `previous`; else `<property>_previous`)."""


def rotation_network_checks(spec: StackSpec) -> list[Problem]:
    """A prod postgres rotation runs where its database is reachable: in the database's VPC (`vpc`), or
    outside any VPC only when the spec says the database is public (`public_database`, with the reason)."""
    if not spec.is_prod:
        return []
    out = []
    for index, secret in enumerate(spec.secrets):
        rotation = spec.rotation(secret)
        if rotation.kind.startswith("postgres") and rotation.vpc is None and rotation.public_database is None:
            out.append(Problem(("secrets", index, "rotation", "vpc"), (
                f"the {rotation.kind} rotation of '{secret.name}' needs the database's vpc (subnet_ids, security_group_ids) in prod: "
                "a function outside the VPC cannot reach a private database; if the database is reachable without one, "
                "set rotation.public_database to the reason")))
    return out


def secret_shape_checks(spec: StackSpec) -> list[Problem]:
    """A secret's declared properties are its contract (rotation/contract.py): an automated rotation may leave
    none of them stale, and no consumer may read a property the secret does not declare."""
    out = []
    for index, secret in enumerate(spec.secrets):
        rotation = spec.rotation(secret)
        if rotation.kind not in AUTOMATED_ROTATION:
            continue
        found = problems(rotation.kind, {"property": rotation.property}, secret.properties, spec.consumer_keys(secret))
        out += [Problem(("secrets", index, *problem.where), problem.message) for problem in found]
    return out
