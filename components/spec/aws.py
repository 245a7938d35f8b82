"""AWS: the account and region, the EKS cluster workloads sign in from (IRSA), KMS keys, recovery windows,
rotation functions, and their checks."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import StringConstraints

from components.spec.audit import AwsAuditSpec
from components.spec.base import CLASS_POLICY, SHARED_KEY_NAME, Region, Spec
from components.spec.errors import Problem
from components.spec.models import KeySpec, SecretSpec, WorkloadSpec
from components.spec.rotation import AUTOMATED_ROTATION, RotationSpec

if TYPE_CHECKING:
    from components.spec.stack import StackSpec

PROD_RECOVERY_WINDOW_DAYS = 30
NONPROD_RECOVERY_WINDOW_DAYS = 7
MIN_PROD_RECOVERY_WINDOW_DAYS = 7
# IAM role and Lambda function names stop at 64 characters.
AWS_NAME_LIMIT = 64
# The one inline policy a workload's role holds: its secret grants. On an adopted role the program owns the role's
# policies exactly (this one, no managed policy): every other inline policy is deleted, every attached one detached.
ROLE_POLICY_NAME = "secrets-access"


class AwsSpec(Spec):
    account_id: Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
    region: Region
    replica_regions: tuple[Region, ...] = ()
    """Regions the estate may replicate secrets into; a secret opts in with its own `replica_regions`."""
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] | None = None
    """Rotation function logs; default 365 in prod (audit trail), 30 elsewhere."""
    deployer_role_arn: Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@/\-]+$")] | None = None
    """The role `pulumi up` runs as; needed only to write initial values through the CMK."""
    audit: AwsAuditSpec | None = None
    """Where Secrets Manager's API calls are recorded: `organization_trail_arn`, `trail: {}` (created) or `elsewhere: <reason>`;
    a prod stack with AWS secrets needs one."""


class ClusterSpec(Spec):
    oidc_issuer_url: Annotated[str, StringConstraints(pattern=r"^https://[a-z0-9.\-]+(/[A-Za-z0-9._\-]+)*$")]
    oidc_provider_arn: Annotated[
        str, StringConstraints(pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:oidc-provider/[a-z0-9.\-]+(/[A-Za-z0-9._\-]+)*$")
    ]

    @property
    def issuer_host_path(self) -> str:
        """The issuer as IAM condition keys spell it: without `https://`."""
        return self.oidc_issuer_url.removeprefix("https://")


class AwsNaming:
    """StackSpec's AWS-derived values: keys, recovery windows, rotation functions (mixed into StackSpec)."""

    def recovery_window_days(self: StackSpec, secret: SecretSpec) -> int:
        if secret.recovery_window_days is not None:
            return secret.recovery_window_days
        return PROD_RECOVERY_WINDOW_DAYS if self.is_prod else NONPROD_RECOVERY_WINDOW_DAYS

    def automated_rotations(self: StackSpec) -> tuple[tuple[SecretSpec, RotationSpec], ...]:
        """AWS secrets whose rotation runs a Lambda, with their effective rotation."""
        pairs = ((s, self.rotation(s)) for s in self.secrets_on("aws"))
        return tuple((s, r) for s, r in pairs if r.kind in AUTOMATED_ROTATION)

    def rotation_function_name(self: StackSpec, secret: SecretSpec) -> str:
        return f"{self.slug}-rotate-{secret.name}"

    @property
    def log_retention_days(self: StackSpec) -> int:
        return self.aws.log_retention_days or (365 if self.is_prod else 30)

    def key_name(self: StackSpec, secret: SecretSpec) -> str:
        """Explicit key, else a dedicated key for critical secrets, else the shared key."""
        if secret.key is not None:
            return secret.key
        if CLASS_POLICY[secret.classification].dedicated_key:
            return secret.name
        return SHARED_KEY_NAME

    def effective_keys(self: StackSpec) -> tuple[KeySpec, ...]:
        """Declared keys plus the implicit ones the secrets need, in a stable order."""
        keys = {k.name: k for k in self.keys}
        for secret in self.secrets_on("aws"):
            name = self.key_name(secret)
            if name not in keys:
                keys[name] = KeySpec(name=name, description=f"Encrypts the {secret.name} secret" if name == secret.name else "Encrypts shared secrets")
        return tuple(keys.values())

    def key_alias(self: StackSpec, key: KeySpec) -> str:
        return key.alias or f"alias/{self.slug}/{key.name}"

    def secrets_of_key(self: StackSpec, key_name: str) -> tuple[SecretSpec, ...]:
        return self._secrets_by_key.get(key_name, ())

    @cached_property
    def _secrets_by_key(self: StackSpec) -> dict[str, tuple[SecretSpec, ...]]:
        index: dict[str, list[SecretSpec]] = {}
        for secret in self.secrets_on("aws"):
            index.setdefault(self.key_name(secret), []).append(secret)
        return {name: tuple(secrets) for name, secrets in index.items()}


def aws_checks(spec: StackSpec) -> list[Problem]:
    problems: list[Problem] = []
    declared_keys = {k.name for k in spec.keys}
    secret_backends = {s.name: s.backend for s in spec.secrets}
    for index, secret in enumerate(spec.secrets):
        at = ("secrets", index)
        if secret.key is not None and secret.key not in declared_keys:
            problems.append(Problem((*at, "key"), f"unknown key '{secret.key}'; declared keys: {', '.join(sorted(declared_keys)) or 'none'}"))
        key_name = spec.key_name(secret)
        if secret.backend == "aws" and CLASS_POLICY[secret.classification].dedicated_key:
            sharers = [s.name for s in spec.secrets_of_key(key_name) if s.name != secret.name]
            if sharers:
                problems.append(Problem((*at, "key"), f"critical secrets need a dedicated key; '{key_name}' also encrypts {', '.join(sharers)}"))
        window = secret.recovery_window_days
        if spec.is_prod and window is not None and window < MIN_PROD_RECOVERY_WINDOW_DAYS:
            problems.append(Problem((*at, "recovery_window_days"), f"must be at least {MIN_PROD_RECOVERY_WINDOW_DAYS} in prod (got {window}); 0 (force delete) is allowed only outside prod"))
        for r_index, region in enumerate(secret.replica_regions):
            if region not in spec.aws.replica_regions:
                problems.append(Problem((*at, "replica_regions", r_index), f"region '{region}' is not in aws.replica_regions ({', '.join(spec.aws.replica_regions) or 'none declared'})"))
        if len(set(secret.replica_regions)) != len(secret.replica_regions):
            problems.append(Problem((*at, "replica_regions"), "lists a region twice"))
        master = secret.rotation.master_secret if secret.rotation is not None else None
        if master is not None and (master not in secret_backends or secret_backends[master] != "aws" or master == secret.name):
            problems.append(Problem((*at, "rotation", "master_secret"), f"must name another AWS secret of this stack (got '{master}')"))

    if spec.aws.deployer_role_arn is None:
        for index, secret in enumerate(spec.secrets):
            if secret.initial_value == "config" and secret.backend == "aws":
                problems.append(Problem(("secrets", index, "initial_value"), "needs aws.deployer_role_arn: the key policy must let the deploying role encrypt the initial value"))
    for index, workload in enumerate(spec.workloads):
        if workload.role_name is None and len(f"{spec.slug}-{workload.name}") > AWS_NAME_LIMIT:
            problems.append(Problem(("workloads", index, "name"), f"'{spec.slug}-{workload.name}' is longer than the {AWS_NAME_LIMIT} characters of an IAM role name"))
    for index, secret in enumerate(spec.secrets):
        if secret.rotation is not None and secret.rotation.kind in AUTOMATED_ROTATION and len(f"{spec.slug}-rotate-{secret.name}") > AWS_NAME_LIMIT:
            problems.append(Problem(("secrets", index, "name"), f"'{spec.slug}-rotate-{secret.name}' is longer than the {AWS_NAME_LIMIT} characters of a function name"))
    for r_index, region in enumerate(spec.aws.replica_regions):
        if region == spec.aws.region:
            problems.append(Problem(("aws", "replica_regions", r_index), f"'{region}' is the primary region"))

    if spec.cluster is None and any(spec.reads(w, "aws") or spec.writes(w, "aws") for w in spec.workloads):
        problems.append(Problem(("cluster",), "required when workloads read AWS secrets (their roles trust the cluster's OIDC provider)"))
    if spec.cluster is not None:
        account = spec.cluster.oidc_provider_arn.split(":")[4]
        if account != spec.aws.account_id:
            problems.append(Problem(("cluster", "oidc_provider_arn"), f"belongs to account {account}, not aws.account_id {spec.aws.account_id}"))
        if not spec.cluster.oidc_provider_arn.endswith("oidc-provider/" + spec.cluster.issuer_host_path):
            problems.append(Problem(("cluster", "oidc_provider_arn"), "must be the provider of cluster.oidc_issuer_url (arn:...:oidc-provider/<issuer without https://>)"))
    return problems
