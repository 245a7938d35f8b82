"""Operators: the people and CI identities that exist outside the stack (an IAM Identity Center permission-set
role, a Vault identity group, an Azure AD group, a Google group) and read or write secrets by hand. The stack
does not own them, so their grants live on what it does own: the secret and its key (AWS), a Vault policy
attached to the group, role assignments and IAM bindings at secret scope (Azure, GCP).

A hand-rotated secret (`rotation: manual`) needs a writer, an operator's or a workload's: without one, the
documented `put-secret-value` fails for everyone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import StringConstraints

from components.spec.azure import Guid
from components.spec.base import Backend, Name, Spec
from components.spec.checks import duplicates
from components.spec.errors import Problem

if TYPE_CHECKING:
    from components.spec.stack import StackSpec

RoleArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@/\-]+$")]
VaultId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
GroupEmail = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")]

# The identity field an operator needs for each backend whose secrets it reads or writes.
IDENTITY_FIELD: dict[str, str] = {"aws": "aws_role_arn", "vault": "vault_group_id", "azure": "azure_group_object_id", "gcp": "gcp_group"}


class OperatorSpec(Spec):
    name: Name
    description: str = ""
    aws_role_arn: RoleArn | None = None
    """An existing role of aws.account_id people or CI assume (e.g. `AWSReservedSSO_SecretsAdmin_…`). The secret's
    resource policy and its key policy name it, so nothing has to be attached to a role the stack does not own."""
    vault_group_id: VaultId | None = None
    """A Vault identity group (its id); the stack adds its own policy to the group and leaves the group's other policies."""
    azure_group_object_id: Guid | None = None
    """An Azure AD (Entra ID) group; role assignments at each secret's scope name it."""
    gcp_group: GroupEmail | None = None
    """A Google group; IAM bindings on each secret name `group:<email>`."""
    reads: tuple[Name, ...] = ()
    writes: tuple[Name, ...] = ()
    """Secrets the operator puts new values into (AWS PutSecretValue, Vault create/update, Key Vault Secrets
    Officer, GCP secretVersionAdder); writing does not include reading."""
    break_glass: bool = False
    """An emergency role (AWS only): its reads need MFA (`aws:MultiFactorAuthPresent`) and every assumption of it
    raises an alert on the stack's alert target."""


class OperatorNaming:
    """StackSpec's operator-derived values (mixed into StackSpec)."""

    def operator_access(self: StackSpec, backend: Backend) -> tuple[tuple[OperatorSpec, str, str], ...]:
        """(operator, secret name, "read" | "write") for the secrets of one backend, in spec order."""
        return tuple(
            (operator, name, access)
            for operator in self.operators
            for access, names in (("read", operator.reads), ("write", operator.writes))
            for name in names
            if self.backend_of.get(name) == backend
        )


def operator_checks(spec: StackSpec) -> list[Problem]:
    problems: list[Problem] = []
    for name, indexes in duplicates(o.name for o in spec.operators).items():
        for index in indexes[1:]:
            problems.append(Problem(("operators", index, "name"), f"duplicate name '{name}' (first at operators[{indexes[0]}])"))
    for index, operator in enumerate(spec.operators):
        at = ("operators", index)
        if not any(getattr(operator, field) for field in IDENTITY_FIELD.values()):
            problems.append(Problem(at, f"names no identity: set one of {', '.join(IDENTITY_FIELD.values())}"))
        for field in ("reads", "writes"):
            for r_index, name in enumerate(getattr(operator, field)):
                backend = spec.backend_of.get(name)
                if backend is None:
                    problems.append(Problem((*at, field, r_index), f"unknown secret '{name}'; declared secrets: {', '.join(sorted(spec.backend_of))}"))
                elif getattr(operator, IDENTITY_FIELD[backend]) is None and getattr(spec, backend) is not None:  # else: the missing section is reported
                    problems.append(Problem((*at, field, r_index), f"'{name}' is a {backend} secret: set operators[{index}].{IDENTITY_FIELD[backend]}"))
        if operator.aws_role_arn is not None and operator.aws_role_arn.split(":")[4] != spec.aws.account_id:
            # Only within its own account does a resource policy grant on its own; another account's role would
            # also need an identity policy there, which this stack cannot see or make.
            problems.append(Problem((*at, "aws_role_arn"), f"must be a role of aws.account_id {spec.aws.account_id} (got account {operator.aws_role_arn.split(':')[4]})"))
        if operator.break_glass and operator.aws_role_arn is None:
            problems.append(Problem((*at, "break_glass"), "needs aws_role_arn: break-glass is an AWS role whose assumption is alerted on"))

    writers = {name for holder in (*spec.operators, *spec.workloads) for name in holder.writes}
    for index, secret in enumerate(spec.secrets):
        if secret.rotation is not None and secret.rotation.kind == "manual" and secret.name not in writers:
            problems.append(Problem(("secrets", index, "rotation", "kind"),
                                    f"'{secret.name}' is rotated by hand but nobody may write it: add it to an operator's writes (or a workload's)"))
    return problems
