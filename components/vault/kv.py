"""A KV version 2 secrets engine with bounded history and check-and-set writes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_vault as vault


@dataclass(frozen=True)
class KvStoreArgs:
    path: str
    max_versions: int
    delete_version_after_seconds: int | None
    cas_required: bool
    protect: bool
    adopt: bool = False  # the mount exists: it and its config are imported, not created


class KvStore(pulumi.ComponentResource):
    def __init__(self, name: str, args: KvStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:vault:KvStore", name, None, opts)
        # Unmounting a KV engine deletes every secret in it: prod mounts are protected and retained.
        self.mount = vault.Mount(
            f"{name}-mount",
            path=args.path,
            type="kv",
            options={"version": "2"},
            description="KV v2 secrets managed by secrets-platform",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect, import_=args.path if args.adopt else None),
        )
        vault.kv.SecretBackendV2(
            f"{name}-config",
            mount=self.mount.path,
            max_versions=args.max_versions,
            delete_version_after=args.delete_version_after_seconds,
            cas_required=args.cas_required,
            opts=pulumi.ResourceOptions(parent=self, import_=f"{args.path}/config" if args.adopt else None),
        )
        self.mount_path = self.mount.path
        self.register_outputs({"mount_path": self.mount_path})
