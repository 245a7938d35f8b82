"""KMS key policies and Secrets Manager resource policies, and the keys' own rotation.

Resource policies are read with the same helpers as identity policies (policy/rules/_iam_doc.py).
A key without a `policy` gets AWS's default policy (the account root, i.e. IAM, decides) and is not
read here.

Keys that only Secrets Manager should use (KMS_DECRYPT_VIA_SECRETS_MANAGER) are those our components tag
`managed-by=secrets-platform`. An untagged key, a key of another owner, and a separate
`aws:kms/keyPolicy:KeyPolicy` (it carries no tags) are not held to that rule: keys for EBS, S3 or
RDS rightly grant decryption without `kms:ViaService`, and the policy cannot tell us the key's
purpose. The public-principal and wildcard rules still apply to every key. When the tags are unknown at preview and a grant
would violate the rule, the finding is undecided.
"""

from __future__ import annotations

from typing import Callable

from documents.iam import Document, Statement, has_wildcard, only_wildcards, parse, sensitive_matches
from policy.rules._iam_doc import KEY_USE_PATTERNS, Check, Issue, document_check, list_some, per_statement, public_principal, unknown_element, unknown_issue
from documents.props import dig
from policy.rules._util import HIPAA_ACCESS, HIPAA_ENCRYPTION, SOC2_ACCESS, SOC2_BOUNDARY, SOC2_LEAST_PRIVILEGE
from policy.rules.base import Finding, Resource, Rule, Severity, is_unknown, rule

KEY = "aws:kms/key:Key"
REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"
EXTERNAL_KEY = "aws:kms/externalKey:ExternalKey"
REPLICA_EXTERNAL_KEY = "aws:kms/replicaExternalKey:ReplicaExternalKey"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
SECRET = "aws:secretsmanager/secret:Secret"  # its inline `policy`
TAGGED_KEYS = (KEY, REPLICA_KEY, EXTERNAL_KEY, REPLICA_EXTERNAL_KEY)
POLICY_TYPES = (*TAGGED_KEYS, KEY_POLICY, SECRET_POLICY, SECRET)
# Resources whose `policy` is required; on the others an absent policy means AWS's default (or none).
REQUIRED_POLICY = (KEY_POLICY, SECRET_POLICY)

OURS = "secrets-platform"  # the managed-by tag our components set
# What lets a principal use the key material (or hand that use on through a grant).
KEY_USE = (
    "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant",
)
MAX_KEY_ROTATION_DAYS = 365
# AWS's default key policy's "Allow access for Key Administrators" statement, as the console writes it
# (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators):
# a statement of these alone names the key's administrators, which is their least privilege (no use of the key).
KEY_ADMINISTRATOR_ACTIONS = frozenset(a.lower() for a in (
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*",
    "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
))
_ACCESS = (HIPAA_ACCESS, SOC2_ACCESS, SOC2_LEAST_PRIVILEGE)
_BOUNDARY = (HIPAA_ACCESS, SOC2_ACCESS, SOC2_BOUNDARY)


def _documents(resource: Resource) -> list[tuple[str, Document]]:
    policy = resource["props"].get("policy")
    if policy in (None, "") and resource["type"] not in REQUIRED_POLICY:
        return []
    return [("policy", parse(policy))]


def _resource_policy(check: Check) -> Callable[[Rule, Resource], list[Finding]]:
    return document_check(_documents, check)


@rule(id="SP-KMS-001", name="resource-policy-no-public-principal", severity=Severity.CRITICAL, resource_types=POLICY_TYPES, frameworks=_BOUNDARY,
      remediation="Name the principals, or add kms:CallerAccount / aws:PrincipalAccount / aws:PrincipalOrgID conditions.")
@_resource_policy
@per_statement
def RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL(s: Statement) -> list[Issue]:
    """A key or secret policy statement with Principal '*' (or NotPrincipal) and no condition binding the caller to an
    account, organisation or ARN opens the key or secret to every AWS account."""
    return public_principal(s, "without a condition binding the caller to your account or organisation lets principals of any "
                               "AWS account use it: name the principals, or add kms:CallerAccount / aws:PrincipalAccount / aws:PrincipalOrgID")


def _non_root(s: Statement) -> list[str]:
    return ["everyone but the listed principals"] if s.not_principal else s.principal.non_root() if s.principal else []


@rule(id="SP-KMS-002", name="resource-policy-wildcard-root-only", severity=Severity.HIGH, resource_types=POLICY_TYPES, frameworks=_ACCESS,
      remediation="Grant the account root the administration actions and every other principal its exact actions.")
@_resource_policy
@per_statement
def RESOURCE_POLICY_WILDCARD_ROOT_ONLY(s: Statement) -> list[Issue]:
    """Wildcard actions (*, kms:*, kms:Put*, secretsmanager:*) or NotAction in a key or secret policy, granted to anyone
    but the account root, let that principal administer, re-permission or delete the key or secret."""
    # `*`, `kms:*` or a partial wildcard reaching write/permission actions, to anyone but an account root
    # (a root principal delegates to the account's IAM policies, which the aws_iam rules check).
    #
    # `kms:ReEncrypt*` and `kms:GenerateDataKey*` are exempt with or without kms:ViaService: in a key policy they match only
    # encryption with this key, never its administration, and AWS's default key policy grants them so to key users
    # (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-users).
    # Whether our keys are used only through Secrets Manager is KMS_DECRYPT_VIA_SECRETS_MANAGER's question.
    if s.not_action:
        wild = ["NotAction"]
    elif s.actions and not s.public and all(a.lower() in KEY_ADMINISTRATOR_ACTIONS for a in s.actions):
        wild = []  # AWS's key-administrators statement to named principals
    else:
        wild = [a for a in s.actions if has_wildcard(a) and (has_wildcard(a.partition(":")[0]) or only_wildcards(a.partition(":")[2])
                                                           or sensitive_matches(a) != []) and a.lower() not in KEY_USE_PATTERNS]
    if not wild:
        return unknown_element(s, "Action")
    if who := _non_root(s):
        return [Issue(f"grants {list_some(wild)} to {list_some(who)}: only the account root may hold wildcard actions; "
                      "list the exact actions this principal needs")]
    return unknown_element(s, "Principal")


def _cloudtrail_for_one_trail(s: Statement) -> bool:
    """CloudTrail making data keys for trails named by aws:SourceArn (the audit trail's key, components/aws/audit.py): it
    encrypts log files, it never decrypts a secret, so it is not a Secrets Manager user."""
    if s.public or not s.principal or s.principal.aws or s.principal.federated or set(s.principal.service) != {"cloudtrail.amazonaws.com"}:
        return False
    trails = s.narrowed_by(["aws:SourceArn"])
    return bool(trails) and all(c.values and all(":cloudtrail:" in v and ":trail/" in v for v in c.values) for c in trails)


def _via_secrets_manager(s: Statement) -> list[Issue]:
    if _cloudtrail_for_one_trail(s):
        return []
    pinned = s.narrowed_by(["kms:ViaService"])
    if pinned and all(c.unknown or (c.values and all(v.lower().startswith("secretsmanager.") for v in c.values)) for c in pinned):
        return []
    uses, who = [a for a in KEY_USE if s.covers(a)], _non_root(s)
    if not uses or not who:
        return [unknown_issue("Action or Principal")] if {"action", "principal"} & s.unknown else []
    if "condition" in s.unknown:
        return [unknown_issue("Condition")]
    return [Issue(f"allows {list_some(uses)} to {list_some(who)} without a kms:ViaService condition naming Secrets Manager only: "
                  "add StringEquals kms:ViaService secretsmanager.<region>.amazonaws.com (and kms:EncryptionContext:SecretARN)")]


@rule(id="SP-KMS-003", name="kms-decrypt-via-secrets-manager", severity=Severity.HIGH, resource_types=TAGGED_KEYS, frameworks=_ACCESS,
      remediation="Add StringEquals kms:ViaService secretsmanager.<region>.amazonaws.com to each such grant.")
def KMS_DECRYPT_VIA_SECRETS_MANAGER(rule: Rule, resource: Resource) -> list[Finding]:
    """A key our components made for Secrets Manager (tag managed-by=secrets-platform) that lets a non-root principal
    decrypt, make data keys or create grants without kms:ViaService=secretsmanager.* can be used directly, outside
    Secrets Manager's access checks and audit trail."""
    managed_by = dig(resource["props"], "tags", "managed-by")
    if not is_unknown(managed_by) and managed_by != OURS:
        return []
    findings = _resource_policy(per_statement(_via_secrets_manager))(rule, resource)
    if not is_unknown(managed_by):
        return findings
    # Whether the key is ours is itself unknown: every violation becomes undecided.
    return [f if f.undecided else rule.finding(resource, f"could not decide: tags.managed-by is unknown at preview; if the key is ours: {f.message}",
                                               undecided=True) for f in findings]


@rule(id="SP-KMS-004", name="secret-policy-block-public", severity=Severity.HIGH, resource_types=(SECRET_POLICY,), frameworks=_BOUNDARY,
      remediation="Set blockPublicPolicy: true.")
def SECRET_POLICY_BLOCK_PUBLIC(rule: Rule, resource: Resource) -> list[Finding]:
    """A SecretPolicy without blockPublicPolicy lets a policy granting other accounts access through."""
    block = resource["props"].get("blockPublicPolicy")
    return rule.require(resource, "blockPublicPolicy", block, block is True,
                        "blockPublicPolicy is not true: Secrets Manager would accept a policy that opens "
                        "the secret to other accounts; set blockPublicPolicy: true")


@rule(id="SP-KMS-005", name="kms-key-rotation", severity=Severity.MEDIUM, resource_types=(KEY,),
      frameworks=(HIPAA_ACCESS, HIPAA_ENCRYPTION, SOC2_ACCESS), remediation="Set enableKeyRotation: true and rotationPeriodInDays at most 365.")
def KMS_KEY_ROTATION(rule: Rule, resource: Resource) -> list[Finding]:
    """A symmetric customer-managed key without automatic rotation (at least yearly) keeps one key material for every
    secret version it ever encrypted."""
    props = resource["props"]
    spec, usage = props.get("customerMasterKeySpec"), props.get("keyUsage")
    if any(is_unknown(v) for v in (spec, usage)):
        return [rule.undecided(resource, "customerMasterKeySpec or keyUsage")]
    if spec not in (None, "SYMMETRIC_DEFAULT") or usage not in (None, "ENCRYPT_DECRYPT"):
        return []  # only symmetric encryption keys rotate automatically
    enabled, period = props.get("enableKeyRotation"), props.get("rotationPeriodInDays")
    if is_unknown(enabled) or is_unknown(period):
        return [rule.undecided(resource, "enableKeyRotation or rotationPeriodInDays")]
    if enabled is not True:
        return [rule.finding(resource, "enableKeyRotation is not true: set it (and rotationPeriodInDays <= 365)")]
    if isinstance(period, (int, float)) and period > MAX_KEY_ROTATION_DAYS:
        return [rule.finding(resource, f"rotationPeriodInDays is {period:g}: rotate the key material at least every {MAX_KEY_ROTATION_DAYS} days")]
    return []


@rule(id="SP-KMS-006", name="resource-policy-readable", severity=Severity.MEDIUM, resource_types=POLICY_TYPES, frameworks=(HIPAA_ACCESS, SOC2_ACCESS),
      remediation="Write the policy as JSON with a Statement list of Effect/Principal/Action/Resource statements.")
def RESOURCE_POLICY_READABLE(rule: Rule, resource: Resource) -> list[Finding]:
    """A key or secret policy that is not valid IAM JSON cannot be checked (and AWS rejects or misreads it)."""
    return [rule.finding(resource, f"{label}: {problem}: fix the document (AWS would reject it or read it otherwise)")
            for label, doc in _documents(resource) for problem in doc.problems]


RULES: list[Rule] = [
    RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL,
    RESOURCE_POLICY_WILDCARD_ROOT_ONLY,
    KMS_DECRYPT_VIA_SECRETS_MANAGER,
    SECRET_POLICY_BLOCK_PUBLIC,
    KMS_KEY_ROTATION,
    RESOURCE_POLICY_READABLE,
]
