"""Audit in prod (HIPAA 164.312(b)), per backend: where the record of every read and change of a secret goes.

Each backend section may carry `audit:`. Vault: an audit device the stack creates (`device: file|socket|syslog`
with its options) or `elsewhere: <reason>`. AWS: the organisation trail's ARN (`organization_trail_arn`), a trail
the stack creates (`trail: {}`), or `elsewhere`. Azure and GCP: `elsewhere` only (their own audit, a workspace
and an IAMAuditConfig, is built by default). `elsewhere` says the control is run outside this stack: the
compliance view then shows it "not assessed" with the reason, never "pass". A prod stack without any of these
fails the audit rules (policy/rules/audit.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import StringConstraints

from components.spec.base import MountPath, Spec
from components.spec.errors import Problem

if TYPE_CHECKING:
    from components.spec.stack import StackSpec

Reason = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f]{10,300}$")]
"""Who runs the audit instead, and where it is recorded (e.g. `Splunk HEC, owned by SecOps, ticket SEC-123`)."""
TrailArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z\-]*:cloudtrail:[a-z0-9\-]+:\d{12}:trail/[A-Za-z0-9._\-]{3,128}$")]
BucketName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9\-]{1,61}[a-z0-9]$")]
FilePath = Annotated[str, StringConstraints(pattern=r"^(stdout|/[A-Za-z0-9._\-/]+)$")]
SocketAddress = Annotated[str, StringConstraints(pattern=r"^([A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):\d{1,5}$|^/[A-Za-z0-9._\-/]+$")]

# Options each Vault audit device type accepts from the spec (the device's own option names).
VAULT_DEVICE_FIELDS: dict[str, tuple[str, ...]] = {
    "file": ("file_path", "mode"),
    "socket": ("address", "socket_type"),
    "syslog": ("facility", "tag"),
}


class VaultAuditSpec(Spec):
    device: Literal["file", "socket", "syslog"] | None = None
    """The audit device the stack enables. Every request and response is logged with secret values HMAC'd
    (`log_raw` is always false, `hmac_accessor` true); Vault refuses requests when no device can log them."""
    path: MountPath | None = None
    """The device's path under sys/audit (default: the device type)."""
    description: str | None = None
    file_path: FilePath | None = None
    """file: the log file on the Vault server (absolute, e.g. /vault/audit/audit.log) or `stdout`."""
    mode: Annotated[str, StringConstraints(pattern=r"^0[0-7]{3}$")] | None = None
    """file: the log file's mode (Vault's default 0600)."""
    address: SocketAddress | None = None
    """socket: `host:port` (or a unix socket path) of the log collector."""
    socket_type: Literal["tcp", "udp", "unix"] | None = None
    """socket: default tcp."""
    facility: Annotated[str, StringConstraints(pattern=r"^(AUTH|AUTHPRIV|DAEMON|LOCAL[0-7]|USER)$")] | None = None
    """syslog: default AUTH."""
    tag: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")] | None = None
    """syslog: default vault."""
    elsewhere: Reason | None = None
    """The Vault server's audit is run outside this stack (e.g. declared in the server's config file, as OpenBao
    2.3+ requires unless `unsafe_allow_api_audit_creation`): who runs it and where its log goes."""

    @property
    def device_path(self) -> str:
        return self.path or (self.device or "")

    def options(self) -> dict[str, str]:
        """The device's options as Vault takes them (strings); never raw values, HMAC'd accessors."""
        options = {"log_raw": "false", "hmac_accessor": "true"}
        for field in VAULT_DEVICE_FIELDS.get(self.device or "", ()):
            value = getattr(self, field)
            if value is not None:
                options[field] = value
        return options


class TrailSpec(Spec):
    """A CloudTrail trail the stack creates: multi-region, log-file validation, KMS-encrypted, into a bucket of its own."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{2,127}$")] | None = None
    """Default `<slug>-secrets-audit`."""
    bucket_name: BucketName | None = None
    """Default `<slug>-<account id>-audit` (bucket names are global)."""


class AwsAuditSpec(Spec):
    organization_trail_arn: TrailArn | None = None
    """The organisation's trail (`arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME`), run by the management account;
    recorded, not created. Secrets Manager API calls (GetSecretValue included) are management events: the trail logs them."""
    trail: TrailSpec | None = None
    """Create a trail in this account (`trail: {}` for the defaults)."""
    elsewhere: Reason | None = None


class ElsewhereSpec(Spec):
    elsewhere: Reason
    """Audit of this backend is run outside this stack: who runs it and where its log goes."""


class AuditNaming:
    """StackSpec's audit-derived values (mixed into StackSpec)."""

    @property
    def trail_name(self: StackSpec) -> str:
        trail = self.aws.audit.trail if self.aws.audit else None
        return (trail.name if trail else None) or f"{self.slug}-secrets-audit"

    @property
    def trail_bucket_name(self: StackSpec) -> str:
        trail = self.aws.audit.trail if self.aws.audit else None
        return (trail.bucket_name if trail else None) or f"{self.slug}-{self.aws.account_id}-audit"


def _exactly_one(at: tuple, section: object, fields: tuple[str, ...]) -> list[Problem]:
    chosen = [f for f in fields if getattr(section, f) is not None]
    if len(chosen) == 1:
        return []
    if not chosen:
        return [Problem(at, f"declare one of {', '.join(fields)}")]
    return [Problem((*at, chosen[1]), f"only one of {', '.join(fields)} (got {' and '.join(chosen)})")]


def audit_checks(spec: StackSpec) -> list[Problem]:
    problems: list[Problem] = []
    vault = spec.vault.audit if spec.vault is not None else None
    if vault is not None:
        at = ("vault", "audit")
        problems += _exactly_one(at, vault, ("device", "elsewhere"))
        allowed = VAULT_DEVICE_FIELDS.get(vault.device or "", ())
        for field in ("path", "description", *(f for fields in VAULT_DEVICE_FIELDS.values() for f in fields)):
            value = getattr(vault, field)
            if value is None:
                continue
            if vault.device is None:
                problems.append(Problem((*at, field), "only with device"))
            elif field not in ("path", "description") and field not in allowed:
                owner = next(d for d, fields in VAULT_DEVICE_FIELDS.items() if field in fields)
                problems.append(Problem((*at, field), f"only for device: {owner}"))
        if vault.device == "file" and vault.file_path is None:
            problems.append(Problem((*at, "file_path"), "required for device: file (an absolute path on the Vault server, or stdout)"))
        if vault.device == "socket" and vault.address is None:
            problems.append(Problem((*at, "address"), "required for device: socket (host:port of the collector)"))
        if vault.socket_type == "unix" and vault.address is not None and not vault.address.startswith("/"):
            problems.append(Problem((*at, "address"), "socket_type unix needs a socket path"))
    aws = spec.aws.audit
    if aws is not None:
        problems += _exactly_one(("aws", "audit"), aws, ("organization_trail_arn", "trail", "elsewhere"))
        if aws.trail is not None and len(spec.trail_bucket_name) > 63:
            problems.append(Problem(("aws", "audit", "trail", "bucket_name"), f"the default '{spec.trail_bucket_name}' is longer than 63 characters; name the bucket"))
    azure = spec.azure
    if azure is not None and azure.audit is not None and azure.log_analytics_workspace_id is not None:
        problems.append(Problem(("azure", "audit"), "only without log_analytics_workspace_id: the vault's audit logs go either to that workspace or elsewhere"))
    return problems
