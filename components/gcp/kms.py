"""Cloud KMS keys that encrypt Secret Manager secrets (CMEK), one key ring per location."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
DAY_SECONDS = 86400


def duration(days: int) -> str:
    """Google's Duration text: `90` days -> `7776000s`."""
    return f"{days * DAY_SECONDS}s"


@dataclass(frozen=True)
class EncryptionKeysArgs:
    project: str
    ring_name: str
    locations: Sequence[str]  # `global` for automatic replication, else each replica region
    key_names: Sequence[str]
    rotation_days: int
    service_agent: pulumi.Input[str]  # the Secret Manager service agent's IAM member
    protect: bool
    labels: Mapping[str, Mapping[str, str]]  # per key name


class EncryptionKeys(pulumi.ComponentResource):
    """A key ring per location and in each the named keys, rotated on a period. Only the Secret Manager
    service agent may use them, bound on each key (never on the project or the ring).

    Key rings and keys can never be deleted in Cloud KMS: `pulumi destroy` only schedules the key
    versions' destruction. In prod they are protected and retained, so nothing is even scheduled."""

    def __init__(self, name: str, args: EncryptionKeysArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:gcp:EncryptionKeys", name, None, opts)
        guarded = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        self.key_ids: dict[tuple[str, str], pulumi.Output[str]] = {}  # (key name, location) -> key id
        self.grants: list[pulumi.Resource] = []
        for location in args.locations:
            ring = gcp.kms.KeyRing(f"{name}-{location}", name=args.ring_name, location=location, project=args.project, opts=guarded)
            for key_name in args.key_names:
                key = gcp.kms.CryptoKey(
                    f"{key_name}-key-{location}",
                    name=key_name,
                    key_ring=ring.id,
                    purpose="ENCRYPT_DECRYPT",
                    rotation_period=duration(args.rotation_days),
                    destroy_scheduled_duration=duration(30),
                    labels=dict(args.labels[key_name]),
                    opts=guarded,
                )
                self.grants.append(gcp.kms.CryptoKeyIAMMember(
                    f"{key_name}-key-{location}-secretmanager",
                    crypto_key_id=key.id,
                    role=ENCRYPTER_DECRYPTER,
                    member=args.service_agent,
                    opts=pulumi.ResourceOptions(parent=self),
                ))
                self.key_ids[(key_name, location)] = key.id
        self.register_outputs({"key_ids": {f"{k}/{loc}": v for (k, loc), v in self.key_ids.items()}})
