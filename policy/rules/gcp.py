"""GCP rules: IAM at project, folder or organization level that reaches every secret (Secret Manager roles,
owner, editor, impersonation roles), public members (`allUsers`, `allAuthenticatedUsers`) on any IAM
resource, federated identities granted as a set (a whole workload identity pool, a group or an attribute)
instead of one `principal://…/subject/system:serviceaccount:<ns>:<sa>`, OIDC providers admitting every
subject of their issuer, and high/critical secrets (by the `classification` label our components set) without CMEK.

Messages name roles, member kinds, replica locations and fields, never member identities or values."""

from __future__ import annotations

import json
from typing import Any, Iterator

from documents.props import dig, entries, strings
from policy.rules._util import HIPAA_ACCESS, SOC2_ACCESS, SOC2_BOUNDARY, SOC2_LEAST_PRIVILEGE
from policy.rules.base import Finding, Resource, Rule, Severity, is_unknown, rule

SECRET = "gcp:secretmanager/secret:Secret"
LEVELS = {"projects": "project", "folder": "folder", "organizations": "organization"}
# IAM at a level above a resource: every secret and key of the project (folder, organization) inherits it.
HIERARCHY_IAM = tuple(f"gcp:{module}/iAM{kind}:IAM{kind}" for module in LEVELS for kind in ("Member", "Binding", "Policy"))
_RESOURCE_IAM = (
    "gcp:secretmanager/secretIam{k}:SecretIam{k}", "gcp:secretmanager/regionalSecretIam{k}:RegionalSecretIam{k}",
    "gcp:kms/cryptoKeyIAM{k}:CryptoKeyIAM{k}", "gcp:kms/keyRingIAM{k}:KeyRingIAM{k}", "gcp:serviceaccount/iAM{k}:IAM{k}",
    "gcp:pubsub/topicIAM{k}:TopicIAM{k}", "gcp:pubsub/subscriptionIAM{k}:SubscriptionIAM{k}", "gcp:storage/bucketIAM{k}:BucketIAM{k}",
)
ALL_IAM = HIERARCHY_IAM + tuple(t.format(k=kind) for t in _RESOURCE_IAM for kind in ("Member", "Binding", "Policy"))
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
POOL_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
# Federated identities: `principal://…/subject/<subject>` is one identity; `principalSet://…` is many (a whole pool
# with `/*`, a group, every identity with an attribute value).
PRINCIPAL_SET = "principalSet://"
# Roles that read (or can grant themselves) every secret when held above the secret: basic roles, every
# Secret Manager and Cloud KMS decrypt role, and impersonation of any service account of the project.
BROAD_ROLES = frozenset({
    "roles/owner", "roles/editor",
    "roles/cloudkms.cryptoKeyDecrypter", "roles/cloudkms.cryptoKeyEncrypterDecrypter", "roles/cloudkms.admin",
    "roles/iam.workloadIdentityUser", "roles/iam.serviceAccountTokenCreator", "roles/iam.serviceAccountUser",
    "roles/iam.securityAdmin", "roles/resourcemanager.projectIamAdmin",
})
SENSITIVE_CLASSES = ("critical", "high")


def _level(resource: Resource) -> str:
    return LEVELS[resource["type"].split(":")[1].split("/")[0]]


def bindings(resource: Resource) -> Iterator[tuple[str, Any, Any]]:
    """(where, role, members) of an IAM Member, Binding or Policy resource; role or members may be unknown."""
    props = resource["props"]
    if resource["type"].endswith("Policy"):
        data = props.get("policyData")
        if is_unknown(data):
            yield "policyData", data, data
            return
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                data = None
        for index, binding in enumerate(entries(dig(data, "bindings"))):
            yield f"policyData.bindings[{index}]", dig(binding, "role"), dig(binding, "members")
    elif resource["type"].endswith("Binding"):
        yield "members", props.get("role"), props.get("members")
    else:
        yield "member", props.get("role"), props.get("member")


def _broad_role(role: str) -> bool:
    return role in BROAD_ROLES or role.startswith("roles/secretmanager.")


@rule(id="SP-GCP-001", name="gcp-no-hierarchy-level-secret-access", severity=Severity.CRITICAL, resource_types=HIERARCHY_IAM,
      frameworks=(HIPAA_ACCESS, SOC2_ACCESS, SOC2_LEAST_PRIVILEGE),
      remediation="Bind roles/secretmanager.secretAccessor on the single secret (gcp.secretmanager.SecretIamMember) to the workload's own service account.")
def NO_HIERARCHY_LEVEL_SECRET_ACCESS(rule: Rule, resource: Resource) -> list[Finding]:
    """IAM at project, folder or organization level granting Secret Manager roles, owner/editor, KMS decrypt or service
    account impersonation"""
    level, out = _level(resource), []
    for where, role, _ in bindings(resource):
        if is_unknown(role):
            out.append(rule.undecided(resource, f"the role of {where}"))
        elif isinstance(role, str) and _broad_role(role):
            out.append(rule.finding(resource, f"{where}: {role} at {level} level reaches every secret and key below it; "
                                    "grant roles/secretmanager.secretAccessor on each secret (SecretIamMember) to one service account"))
    return out


@rule(id="SP-GCP-002", name="gcp-no-public-members", severity=Severity.CRITICAL, resource_types=ALL_IAM,
      frameworks=(HIPAA_ACCESS, SOC2_ACCESS, SOC2_BOUNDARY),
      remediation="Remove allUsers/allAuthenticatedUsers; grant the named service accounts that need access.")
def NO_PUBLIC_MEMBERS(rule: Rule, resource: Resource) -> list[Finding]:
    """allUsers or allAuthenticatedUsers in any IAM member, binding or policy"""
    out = []
    for where, role, members in bindings(resource):
        found = strings(members)
        public = sorted(PUBLIC_MEMBERS & set(found.values))
        if public:
            out.append(rule.finding(resource, f"{where}: {', '.join(public)} granted {role if isinstance(role, str) and not is_unknown(role) else 'a role'}; "
                                    "name the service accounts that need it"))
        elif found.unknown:
            out.append(rule.undecided(resource, f"the members of {where}"))
    return out


@rule(id="SP-GCP-004", name="gcp-federated-principals-exact", severity=Severity.HIGH, resource_types=(*ALL_IAM, POOL_PROVIDER),
      frameworks=(HIPAA_ACCESS, SOC2_ACCESS, SOC2_LEAST_PRIVILEGE),
      remediation="Grant principal://…/subject/system:serviceaccount:<ns>:<sa> on the resource (never principalSet://…/*), and set the "
      "provider's attributeCondition to the service accounts it serves.")
def FEDERATED_PRINCIPALS_EXACT(rule: Rule, resource: Resource) -> list[Finding]:
    """Workload Identity Federation grants name one federated principal, and each OIDC provider admits only named subjects"""
    if resource["type"] == POOL_PROVIDER:
        condition = resource["props"].get("attributeCondition")
        return rule.require(resource, "attributeCondition", condition, bool(condition),
                            "attributeCondition: none, so the provider admits every subject of its issuer (every service account "
                            "of the cluster); pin them: assertion.sub in ['system:serviceaccount:<ns>:<sa>', ...]")
    out = []
    for where, role, members in bindings(resource):
        if any(m.startswith(PRINCIPAL_SET) for m in strings(members).values):
            out.append(rule.finding(resource, f"{where}: a federated principal set (a whole pool, a group or an attribute) granted "
                                    f"{role if isinstance(role, str) and not is_unknown(role) else 'a role'}; grant "
                                    "principal://iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/subject/"
                                    "system:serviceaccount:<ns>:<sa> for each service account that needs it"))
    return out  # members unknown at preview: SP-GCP-002 reports them undecided


@rule(id="SP-GCP-003", name="gcp-secret-cmek-by-class", severity=Severity.HIGH, resource_types=(SECRET,), frameworks=(HIPAA_ACCESS, SOC2_ACCESS),
      remediation="Set replication.auto.customerManagedEncryption (key in global) or a key per userManaged replica location.")
def SECRET_CMEK_BY_CLASS(rule: Rule, resource: Resource) -> list[Finding]:
    """High and critical Secret Manager secrets are encrypted with a customer-managed Cloud KMS key in every replica"""
    props = resource["props"]
    classification = dig(props, "labels", "classification")
    if is_unknown(classification):
        return [rule.undecided(resource, "labels.classification")]
    if classification not in (*SENSITIVE_CLASSES, None):
        return []
    what = f"a {classification} secret" if classification else "a secret without a classification label (treated as high)"
    replication = props.get("replication")
    if is_unknown(replication):
        return [rule.undecided(resource, "replication")]
    auto, user = dig(replication, "auto"), dig(replication, "userManaged")
    if auto is not None:
        key = dig(auto, "customerManagedEncryption", "kmsKeyName")
        return [] if key else [rule.finding(resource, f"replication.auto: {what} is encrypted with a Google-managed key; "
                                            "set replication.auto.customerManagedEncryption.kmsKeyName to a Cloud KMS key in `global`")]
    replicas = dig(user, "replicas")
    if is_unknown(replicas):
        return [rule.undecided(resource, "replication.userManaged.replicas")]
    out = []
    for index, replica in enumerate(entries(replicas)):
        if not dig(replica, "customerManagedEncryption", "kmsKeyName"):
            location = dig(replica, "location")
            out.append(rule.finding(resource, f"replication.userManaged.replicas[{index}] ({location if isinstance(location, str) else 'unknown location'}): "
                                    f"{what} without customerManagedEncryption.kmsKeyName; use a Cloud KMS key of the replica's location"))
    if not entries(replicas):
        out.append(rule.finding(resource, f"replication: {what} declares no customer-managed encryption; set replication with a Cloud KMS key"))
    return out


RULES: list[Rule] = [
    NO_HIERARCHY_LEVEL_SECRET_ACCESS,
    NO_PUBLIC_MEMBERS,
    SECRET_CMEK_BY_CLASS,
    FEDERATED_PRINCIPALS_EXACT,
]
