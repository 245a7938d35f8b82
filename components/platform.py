"""The composition: the only module that knows every backend and wires a secret to its key,
its consumers' roles and their grants. Spec in, resources out; no decisions about defaults here
(they live in components.config)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import config
from components.aws.iam import SecretAccessPolicy, SecretAccessPolicyArgs
from components.aws.irsa import WorkloadRole, WorkloadRoleArgs
from components.aws.kms import EncryptionKey, EncryptionKeyArgs, KeyUser
from components.aws.secret import ManagedSecret, ManagedSecretArgs

DEPLOYER_LABEL = "deployer"


class SecretsPlatform(pulumi.ComponentResource):
    def __init__(self, name: str, spec: config.StackSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:index:Platform", name, None, opts)
        # The spec names the account and region; the provider refuses any other account, so a
        # mistyped stack or stale credentials cannot deploy prod's estate into the wrong place.
        self.provider = aws.Provider(
            f"{name}-aws",
            region=spec.aws.region,
            allowed_account_ids=[spec.aws.account_id],
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"aws": self.provider})
        protect = spec.is_prod

        # 1. Roles first: key policies name them.
        self.roles: dict[str, WorkloadRole] = {}
        for workload in spec.workloads:
            if not (workload.reads or workload.writes):
                continue
            assert spec.cluster is not None  # guaranteed by the spec's cross-checks
            self.roles[workload.name] = WorkloadRole(
                workload.name,
                WorkloadRoleArgs(
                    role_name=f"{spec.slug}-{workload.name}",
                    oidc_provider_arn=spec.cluster.oidc_provider_arn,
                    issuer_host_path=spec.cluster.issuer_host_path,
                    namespace=workload.namespace,
                    service_account=workload.service_account,
                    tags=spec.tags_for(workload=workload.name),
                ),
                child,
            )

        # 2. Keys, each naming exactly the roles that use it and for which secret paths.
        self.keys: dict[str, EncryptionKey] = {}
        for key in spec.effective_keys():
            secrets = spec.secrets_of_key(key.name)
            self.keys[key.name] = EncryptionKey(
                key.name,
                EncryptionKeyArgs(
                    account_id=spec.aws.account_id,
                    region=spec.aws.region,
                    replica_regions=tuple(sorted({r for s in secrets for r in s.replica_regions})),
                    alias=spec.key_alias(key),
                    description=key.description or f"secrets-platform key {key.name}",
                    deletion_window_days=key.deletion_window_days,
                    protect=protect,
                    tags=spec.tags_for(_strictest(secrets)),
                    users=self._key_users(spec, secrets),
                ),
                child,
            )

        # 3. Secrets, encrypted with their key.
        self.secrets: dict[str, ManagedSecret] = {}
        for secret in spec.secrets:
            rotation = spec.rotation(secret)
            self.secrets[secret.name] = ManagedSecret(
                secret.name,
                ManagedSecretArgs(
                    path=spec.secret_path(secret),
                    description=secret.description,
                    key=self.keys[spec.key_name(secret)],
                    recovery_window_days=spec.recovery_window_days(secret),
                    replica_regions=secret.replica_regions,
                    protect=protect,
                    tags={**secret.tags, **spec.tags_for(secret.classification, **_rotation_tags(rotation))},
                    initial_value=config.initial_value(secret) if secret.initial_value == "config" else None,
                ),
                child,
            )

        # 4. Grants: each role gets exactly the secrets its workload declares.
        for workload in spec.workloads:
            if workload.name not in self.roles:
                continue
            grants = [self.secrets[s].grant_read() for s in workload.reads]
            grants += [self.secrets[s].grant_write() for s in workload.writes]
            SecretAccessPolicy(
                workload.name,
                SecretAccessPolicyArgs(role_name=self.roles[workload.name].role_name, grants=grants),
                child,
            )

        self.secret_arns = {name: s.secret_arn for name, s in self.secrets.items()}
        self.role_arns = {name: r.role_arn for name, r in self.roles.items()}
        self.key_arns = {name: k.key_arn for name, k in self.keys.items()}
        self.register_outputs({"secret_arns": self.secret_arns, "role_arns": self.role_arns, "key_arns": self.key_arns})

    def _key_users(self, spec: config.StackSpec, secrets: tuple[config.SecretSpec, ...]) -> list[KeyUser]:
        users = []
        for workload in spec.workloads:
            for access, names in (("read", workload.reads), ("write", workload.writes)):
                paths = [spec.secret_path(s) for s in secrets if s.name in names]
                if paths:
                    users.append(KeyUser(workload.name, self.roles[workload.name].role_arn, paths, access))
        initial = [spec.secret_path(s) for s in secrets if s.initial_value == "config"]
        if initial and spec.aws.deployer_role_arn:
            users.append(KeyUser(DEPLOYER_LABEL, spec.aws.deployer_role_arn, initial, "write"))
        return users


def _strictest(secrets: tuple[config.SecretSpec, ...]) -> config.Classification:
    order = list(config.Classification)  # critical first
    return min((s.classification for s in secrets), key=order.index, default=config.Classification.LOW)


def _rotation_tags(rotation: config.RotationSpec) -> dict[str, str]:
    tags = {"rotation": rotation.kind}
    if rotation.days is not None:
        tags["rotation-days"] = str(rotation.days)
    return tags
