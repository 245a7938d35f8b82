"""Customer-managed KMS keys that only Secrets Manager may use, on behalf of named roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.aws import actions
from components.aws.iam import policy_json, sid, via_secrets_manager
from components.spec import AwsSpec, KeySpec


@dataclass(frozen=True)
class KeyUser:
    """A role allowed to use the key through Secrets Manager, for the named secret paths only."""

    label: str  # workload name, for the statement id
    principal_arn: pulumi.Input[str]
    secret_paths: Sequence[str]
    access: str  # "read" | "write" | "encrypt" (write without read: operators, the deployer)
    mfa: bool = False  # break-glass: only a session signed in with MFA


KEY_ACTIONS = {"read": actions.KEY_READ, "write": actions.KEY_WRITE, "encrypt": actions.KEY_ENCRYPT}


def secret_arn_patterns(account_id: str, regions: Sequence[str], paths: Sequence[str]) -> list[str]:
    """Secrets Manager appends `-` and six random characters to every secret's ARN.

    The key policy must name its secrets before they exist (they are encrypted with this key),
    so it matches that suffix with exactly six `?`, never `*`.
    """
    return [f"arn:aws:secretsmanager:{r}:{account_id}:secret:{p}-??????" for p in paths for r in regions]


def key_policy(account_id: str, regions: Sequence[str], users: Sequence[tuple[KeyUser, str]]) -> str:
    """The policy of a key: the account root administers, each user decrypts (and, for writers,
    makes data keys) only via Secrets Manager and only for its own secrets' encryption context."""
    statements: list[dict] = [
        {
            "Sid": "AccountRootAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": actions.checked(actions.KEY_ADMIN),
            "Resource": "*",
        }
    ]
    for user, principal_arn in users:
        condition = {
            "StringEquals": {"kms:ViaService": via_secrets_manager(regions), "kms:CallerAccount": account_id},
            "StringLike": {"kms:EncryptionContext:SecretARN": secret_arn_patterns(account_id, regions, user.secret_paths)},
        }
        if user.mfa:
            condition["Bool"] = {"aws:MultiFactorAuthPresent": "true"}
        statements.append(
            {
                "Sid": sid(user.access, user.label),
                "Effect": "Allow",
                "Principal": {"AWS": principal_arn},
                "Action": actions.checked(KEY_ACTIONS[user.access]),
                "Resource": "*",
                "Condition": condition,
            }
        )
    return policy_json(statements)


class EncryptionKey(pulumi.ComponentResource):
    """A symmetric CMK with yearly rotation, an alias, and a replica in each replica region.

    `config` is the spec's key (description, deletion window, `adopt`: the existing key's id, the key and its alias
    imported, not created) in `account`'s account and primary region; the stack derives the rest: the alias, the
    regions its secrets replicate to, protection, tags and the users its policy names."""

    def __init__(self, name: str, config: KeySpec, account: AwsSpec, alias: str, replica_regions: Sequence[str], protect: bool,
                 tags: dict[str, str], users: Sequence[KeyUser], opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:aws:EncryptionKey", name, None, opts)
        description = config.description or f"secrets-platform key {config.name}"
        self.regions = (account.region, *replica_regions)
        policy = pulumi.Output.all(*[u.principal_arn for u in users]).apply(
            lambda arns: key_policy(account.account_id, self.regions, list(zip(users, arns)))
        )
        # Prod keys survive `pulumi destroy` and a deleted config entry: protect and retain.
        guarded = pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect)
        self.key = aws.kms.Key(
            f"{name}-key",
            description=description,
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=config.deletion_window_days,
            multi_region=bool(replica_regions),
            policy=policy,
            tags=tags,
            opts=pulumi.ResourceOptions.merge(guarded, pulumi.ResourceOptions(import_=config.adopt)),
        )
        aws.kms.Alias(f"{name}-alias", name=alias, target_key_id=self.key.key_id,
                      opts=pulumi.ResourceOptions(parent=self, import_=alias if config.adopt else None))
        self.replica_keys = {
            region: aws.kms.ReplicaKey(
                f"{name}-key-{region}",
                region=region,
                primary_key_arn=self.key.arn,
                description=description,
                deletion_window_in_days=config.deletion_window_days,
                policy=policy,
                tags=tags,
                opts=guarded,
            )
            for region in replica_regions
        }
        for region, replica in self.replica_keys.items():
            aws.kms.Alias(
                f"{name}-alias-{region}",
                region=region,
                name=alias,
                target_key_id=replica.key_id,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.key_arn = self.key.arn
        self.replica_key_arns = {region: replica.arn for region, replica in self.replica_keys.items()}
        self.register_outputs({"key_arn": self.key_arn, "replica_key_arns": self.replica_key_arns})

    def arn_in(self, region: str) -> pulumi.Output[str]:
        return self.key_arn if region == self.regions[0] else self.replica_key_arns[region]
