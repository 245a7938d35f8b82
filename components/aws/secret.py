"""A Secrets Manager secret whose value Pulumi never manages after creation."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws import actions
from components.aws.iam import Grant
from components.aws.kms import EncryptionKey
from components.backend import write_once
from components.spec import SecretSpec

# Once created, the value belongs to rotation and operators: a later `pulumi up` must not write
# it back, nor move AWSCURRENT back to the version it created (terraform-aws-modules/secrets-manager#24).
VALUE_PROPERTIES = ("secretString", "secretBinary", "secretStringWo", "secretStringWoVersion", "versionStages")


class ManagedSecret(pulumi.ComponentResource):
    """`config` is the spec's secret (description, replica regions, `adopt`: the existing secret's ARN, imported,
    not created) at `path`, encrypted with `key`; `initial_value` is written once, when set."""

    def __init__(self, name: str, config: SecretSpec, path: str, key: EncryptionKey, recovery_window_days: int, protect: bool,
                 tags: dict[str, str], initial_value: pulumi.Input[str] | None = None, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:aws:ManagedSecret", name, None, opts)
        self.name = name
        self.key = key
        self.regions = (key.regions[0], *config.replica_regions)
        guarded = pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect)
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=path,
            description=config.description,
            kms_key_id=key.key_arn,
            recovery_window_in_days=recovery_window_days,
            replicas=[
                aws.secretsmanager.SecretReplicaArgs(region=region, kms_key_id=key.arn_in(region))
                for region in config.replica_regions
            ],
            force_overwrite_replica_secret=False,
            tags=tags,
            opts=pulumi.ResourceOptions.merge(guarded, pulumi.ResourceOptions(import_=config.adopt)),
        )
        if initial_value is not None:
            write_once(aws.secretsmanager.SecretVersion, name, initial_value, "secret_string_wo", VALUE_PROPERTIES, guarded,
                       secret_id=self.secret.arn)
        self.secret_arn = self.secret.arn
        primary = self.regions[0]
        self.replica_arns = {
            region: self.secret_arn.apply(lambda arn, r=region: arn.replace(f":{primary}:", f":{r}:", 1))
            for region in config.replica_regions
        }
        self.register_outputs({"secret_arn": self.secret_arn, "replica_arns": self.replica_arns})

    def _grant(self, access: str, secret_actions: tuple[str, ...], key_actions: tuple[str, ...]) -> Grant:
        return Grant(
            secret_name=self.name,
            secret_arns=[self.secret_arn, *self.replica_arns.values()],
            key_arns=[self.key.arn_in(region) for region in self.regions],
            regions=self.regions,
            secret_actions=secret_actions,
            key_actions=key_actions,
            access=access,
        )

    def grant_read(self) -> Grant:
        return self._grant("read", actions.SECRET_READ, actions.KEY_READ)

    def grant_write(self) -> Grant:
        return self._grant("write", actions.SECRET_WRITE, actions.KEY_WRITE)

    def grant_rotate(self) -> Grant:
        """For its rotation function: staging labels on the primary (AWS replicates the result)."""
        primary = self.regions[0]
        return Grant(
            secret_name=self.name,
            secret_arns=[self.secret_arn],
            key_arns=[self.key.arn_in(primary)],
            regions=[primary],
            secret_actions=actions.SECRET_ROTATE,
            key_actions=actions.KEY_WRITE,
            access="rotate",
        )
