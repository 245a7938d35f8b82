"""A Secret Manager secret, CMEK-encrypted, whose value Pulumi never holds by default."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

from components.backend import write_once
from components.gcp.kms import duration

ACCESSOR = "roles/secretmanager.secretAccessor"
VERSION_ADDER = "roles/secretmanager.secretVersionAdder"
ROLE_BY_ACCESS = {"read": ACCESSOR, "write": VERSION_ADDER}
# Written once when `initial_value: config`; afterwards the value belongs to rotation and operators.
VALUE_PROPERTIES = ("secretData", "secretDataWo", "secretDataWoVersion", "enabled")
# Secret Manager moves the next rotation time itself after each notification: never set it back.
ROTATION_IGNORED = ("rotation.nextRotationTime",)


@dataclass(frozen=True)
class GcpGrant:
    """A role on one secret: secretAccessor to read, secretVersionAdder to write."""

    secret_name: str
    access: str
    role: str


def first_rotation(days: int, today: datetime.date | None = None) -> str:
    """The first notification, `days` after today at 04:00 UTC (only used when the secret is created)."""
    day = (today or datetime.datetime.now(datetime.timezone.utc).date()) + datetime.timedelta(days=days)
    return f"{day.isoformat()}T04:00:00Z"


@dataclass(frozen=True)
class GcpSecretArgs:
    project: str
    secret_id: str
    key_ids: Mapping[str, pulumi.Input[str]]  # location -> CMEK key id; `global` alone means automatic replication
    labels: Mapping[str, str]
    version_destroy_days: int
    protect: bool
    rotation_days: int | None = None
    rotation_topic: pulumi.Input[str] | None = None
    initial_value: pulumi.Input[str] | None = None
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)  # the agent's grants on keys and topic


class GcpSecret(pulumi.ComponentResource):
    def __init__(self, name: str, args: GcpSecretArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:gcp:Secret", name, None, opts)
        self.name = name
        self.project = args.project
        guarded = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        if set(args.key_ids) == {"global"}:
            replication = gcp.secretmanager.SecretReplicationArgs(
                auto=gcp.secretmanager.SecretReplicationAutoArgs(
                    customer_managed_encryption=gcp.secretmanager.SecretReplicationAutoCustomerManagedEncryptionArgs(kms_key_name=args.key_ids["global"])
                )
            )
        else:
            replication = gcp.secretmanager.SecretReplicationArgs(
                user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(
                    replicas=[
                        gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(
                            location=location,
                            customer_managed_encryption=gcp.secretmanager.SecretReplicationUserManagedReplicaCustomerManagedEncryptionArgs(kms_key_name=key),
                        )
                        for location, key in args.key_ids.items()
                    ]
                )
            )
        rotation = topics = None
        if args.rotation_days is not None:
            rotation = gcp.secretmanager.SecretRotationArgs(rotation_period=duration(args.rotation_days), next_rotation_time=first_rotation(args.rotation_days))
            topics = [gcp.secretmanager.SecretTopicArgs(name=args.rotation_topic)]
        self.secret = gcp.secretmanager.Secret(
            f"{name}-secret",
            secret_id=args.secret_id,
            project=args.project,
            replication=replication,
            labels=dict(args.labels),
            rotation=rotation,
            topics=topics,
            version_destroy_ttl=duration(args.version_destroy_days),
            deletion_protection=args.protect,
            opts=pulumi.ResourceOptions.merge(guarded, pulumi.ResourceOptions(
                depends_on=list(args.depends_on), ignore_changes=list(ROTATION_IGNORED) if rotation else None)),
        )
        if args.initial_value is not None:
            write_once(gcp.secretmanager.SecretVersion, name, args.initial_value, "secret_data_wo", VALUE_PROPERTIES, guarded, secret=self.secret.id)
        self.secret_id = self.secret.id  # projects/<project>/secrets/<id>
        self.register_outputs({"secret_id": self.secret_id})

    def bind(self, label: str, member: pulumi.Input[str], grant: GcpGrant, opts: pulumi.ResourceOptions) -> gcp.secretmanager.SecretIamMember:
        """The grant's role for `member` on this one secret, never on the project."""
        return gcp.secretmanager.SecretIamMember(
            f"{label}-{grant.access}-{self.name}", project=self.project, secret_id=self.secret.id, role=grant.role, member=member, opts=opts
        )
