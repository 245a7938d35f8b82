"""AWS as IAM and KMS see a secret: the resource types read, the Secrets Manager operations and the
key use each needs, keys and their grants, each regional copy of a secret, and the identities (roles,
users, principals a resource policy names) with their policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from collections.abc import Iterable, Mapping
from typing import Any

from documents.iam import Document, Statement
from offline.access.conditions import Request
from offline.access.model import ADMIN, EFFECTIVE, READ, UNKNOWN, WRITE, Resource, glob_regex, has_glob

SECRET = "aws:secretsmanager/secret:Secret"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
KEY, REPLICA_KEY, KEY_POLICY, ALIAS = "aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey", "aws:kms/keyPolicy:KeyPolicy", "aws:kms/alias:Alias"
KEY_GRANT = "aws:kms/grant:Grant"
ROLE, USER, POLICY = "aws:iam/role:Role", "aws:iam/user:User", "aws:iam/policy:Policy"
INLINE = {"aws:iam/rolePolicy:RolePolicy": ("iam-role", "role"), "aws:iam/userPolicy:UserPolicy": ("iam-user", "user")}
ATTACHMENTS = {"aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("iam-role", "role"),
               "aws:iam/userPolicyAttachment:UserPolicyAttachment": ("iam-user", "user")}
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
# Exclusive management of a role's attached policies: the role holds exactly `policyArns` (its other attachments are
# removed). `rolePoliciesExclusive` only deletes inline policies not listed: it grants nothing of its own.
EXCLUSIVE_ATTACHMENTS = {"aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": ("iam-role", "roleName")}
PROVIDER = "pulumi:providers:aws"
WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
MANAGED_KEY_ALIAS = "alias/aws/secretsmanager"
ANY_SERVICE_ACCOUNT = ("*", "*")


@dataclass(frozen=True)
class Operation:
    capability: str
    action: str
    key_action: str | None  # what Secrets Manager asks KMS for on the caller's behalf


OPERATIONS = (
    Operation(READ, "secretsmanager:GetSecretValue", "kms:Decrypt"),
    Operation(WRITE, "secretsmanager:PutSecretValue", "kms:GenerateDataKey"),
    Operation(WRITE, "secretsmanager:UpdateSecret", "kms:GenerateDataKey"),
    # Moving AWSCURRENT back to an older version changes the value callers get; no key involved.
    Operation(WRITE, "secretsmanager:UpdateSecretVersionStage", None),
    *(Operation(ADMIN, f"secretsmanager:{a}", None) for a in (
        "DeleteSecret", "PutResourcePolicy", "DeleteResourcePolicy", "RotateSecret", "CancelRotateSecret", "RestoreSecret",
        "ReplicateSecretToRegions", "RemoveRegionsFromReplication", "StopReplicationToReplica",
    )),
)

# AWS managed policies a hand-written role may attach: their documents are AWS's, not in the plan.
_NONE: dict = {"Version": "2012-10-17", "Statement": []}
AWS_MANAGED = {
    "AdministratorAccess": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    "PowerUserAccess": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"}]},
    "SecretsManagerReadWrite": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:*", "kms:DescribeKey", "kms:ListAliases", "kms:ListKeys"], "Resource": "*"}]},
    # Logs, network interfaces, read-only describes: no secret value and no key use.
    **{name: _NONE for name in ("service-role/AWSLambdaBasicExecutionRole", "service-role/AWSLambdaVPCAccessExecutionRole",
                                "ReadOnlyAccess", "ViewOnlyAccess", "SecurityAudit")},
}


@dataclass(frozen=True)
class KeyGrant:
    """A KMS grant: the grantee may use the key for the listed operations, whatever the key policy says."""

    label: str
    grantee: str | None  # None: unknown at preview
    operations: frozenset[str]
    context: Mapping[str, Any] | None  # encryptionContextEquals / Subset constraints, None when none


@dataclass(frozen=True)
class Key:
    label: str  # its alias when it has one
    arn: str | None
    document: Document
    tags: Mapping[str, str] | None
    grants: tuple[KeyGrant, ...] = ()


# A secret's key when it is not a Key of the plan: aws/secretsmanager, unknown at preview, or the key of a
# secret the plan does not create (any other string is the ARN of a key outside the plan).
MANAGED, UNKNOWN_KEY, OUTSIDE = "managed", "unknown", "outside"


@dataclass(frozen=True, eq=False)
class Location:
    """One regional copy of a secret (the primary or a replica) as IAM and KMS see it."""

    secret: str
    name: str
    region: str | None
    account: str | None
    arn: str | None  # None until created (a preview)
    key: Key | str  # a Key, MANAGED (aws/secretsmanager), UNKNOWN_KEY, or the ARN of a key not in the plan
    tags: Mapping[str, str] | None
    primary: bool = True

    def matches(self, patterns: Iterable[str]) -> bool | None:
        """Whether an IAM glob names this copy; None when only its unknown parts could tell."""
        results = [arn_matches(p, self) for p in patterns]
        return True if True in results else (None if None in results else False)

    @property
    def label(self) -> str:
        return f"secret {self.name}" + ("" if self.primary else f" (replica in {self.region})")


def arn_matches(pattern: str, loc: Location) -> bool | None:
    if loc.arn is not None:
        return glob_regex(pattern).match(loc.arn) is not None
    # Not created yet: region, account and the six random characters Secrets Manager appends may be unknown.
    placeholder = f"arn:aws:secretsmanager:{loc.region or chr(1)}:{loc.account or chr(2)}:secret:{loc.name}-{chr(0) * 6}"
    if glob_regex(pattern).match(placeholder):
        return True  # wildcards cover every unknown part
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return False
    _, _, service, region, account, resource = parts
    if not glob_regex(service).match("secretsmanager"):
        return False
    for field_, known in ((region, loc.region), (account, loc.account)):
        if known is not None and not glob_regex(field_).match(known):
            return False
    # A literal suffix may be this secret's, once it is created.
    stem = resource[:-6] + "??????" if len(resource) > 6 and not has_glob(resource[-6:]) else resource
    return None if glob_regex(stem).match(f"secret:{loc.name}-{chr(0) * 6}") else False


def tags_of(resource: Resource) -> Mapping[str, str] | None:
    tags = resource.props.get("tags")
    return tags if isinstance(tags, Mapping) else None


@dataclass
class Identity:
    """An IAM role or user with its identity policies, or a principal a secret's resource policy names."""

    id: str
    kind: str  # iam-role | iam-user | aws-principal
    name: str
    arn: str | None
    account: str | None
    tags: Mapping[str, str] | None
    trust: Document | None = None
    documents: list[tuple[str, Document]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return (self.tags or {}).get("workload") or self.name

    @cached_property
    def allows(self) -> list[tuple[str, Statement]]:
        return [(label, s) for label, doc in self.documents for s in doc.statements if s.allow is not False]

    @cached_property
    def denies(self) -> list[tuple[str, Statement]]:
        return [(label, s) for label, doc in self.documents for s in doc.statements if s.allow is not True]

    def request(self, values: dict[str, list | None], resource_tags: Mapping[str, str] | None) -> Request:
        """The request this identity makes: keys whose value is unknown are left out (undecided)."""
        known = {"aws:securetransport": ["true"], **{k: v for k, v in values.items() if v is None or None not in v}}
        if self.arn:
            known["aws:principalarn"] = [self.arn]
        if self.account:
            known["aws:principalaccount"] = [self.account]
        tags: dict[str, Mapping[str, str]] = {}
        if self.tags is not None:
            tags["aws:principaltag/"] = self.tags
        if resource_tags is not None:
            tags["aws:resourcetag/"] = tags["secretsmanager:resourcetag/"] = resource_tags
        return Request(known, tags)


@dataclass(frozen=True)
class TrustSubject:
    """Who may assume a role: service accounts (globs of namespace and name) or another AWS principal."""

    role: str
    hop: str
    status: str
    service_account: tuple[str, str] | None = None
    aws: str | None = None
    reason: str = ""


def names_principal(s: Statement, identity: Identity) -> bool | str | None:
        """Whether a resource policy statement's Principal names the identity: True, "root" (its account),
        False, or None (unknown)."""
        p = s.principal
        if p is None or s.not_principal:
            return None if s.not_principal else False
        if p.public or (identity.arn and identity.arn in p.aws):
            return True
        if identity.account and any(a in (identity.account, f"arn:aws:iam::{identity.account}:root") for a in p.aws):
            return "root"
        if p.unknown or (identity.arn is None and any(a.endswith(f"/{identity.name}") for a in p.aws)):
            return None
        return False


def effect(s: Statement) -> str:
    return UNKNOWN if s.allow is None else EFFECTIVE
