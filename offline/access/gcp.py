"""GCP: who may read or write each Secret Manager secret.

- A secret's own IAM (SecretIamMember/Binding/Policy) grants its members: secretAccessor reads,
  secretVersionAdder/Manager writes, admin and owner administer (and read and write).
- IAM at project level reaches every secret of the project (and any created later: a pattern secret).
- A Google service account is impersonated through GKE workload identity by the Kubernetes service
  accounts its `roles/iam.workloadIdentityUser` binding names: `serviceAccount:<pool>[<ns>/<sa>]`. GKE's
  pool `<project>.svc.id.goog` accepts only tokens of GKE clusters of that project: when the plan shows the
  service accounts' tokens come from another issuer (an EKS or AKS issuer trusted by IAM roles, federated
  credentials or a federation provider) and from no such GKE cluster, the chain is blocked.
- Workload Identity Federation: `principal://iam.googleapis.com/projects/<n>/locations/global/workloadIdentityPools/<pool>/subject/system:serviceaccount:<ns>:<sa>`
  is that Kubernetes service account when a provider of the pool in the plan maps `google.subject` to
  `assertion.sub` and its attribute condition admits the subject; it holds its own grants (direct resource
  access) or impersonates a Google service account through `workloadIdentityUser`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from offline.access.model import ADMIN, BLOCKED, EFFECTIVE, READ, UNCLASSIFIED, UNKNOWN, WRITE, Grant, Graph, Resource, Secret, known_str, value
from documents.props import dig, entries, is_unknown

SECRET = "gcp:secretmanager/secret:Secret"
ACCOUNT = "gcp:serviceaccount/account:Account"
_SECRET_IAM = ("gcp:secretmanager/secretIamMember:SecretIamMember", "gcp:secretmanager/secretIamBinding:SecretIamBinding",
               "gcp:secretmanager/secretIamPolicy:SecretIamPolicy")
_ACCOUNT_IAM = ("gcp:serviceaccount/iAMMember:IAMMember", "gcp:serviceaccount/iAMBinding:IAMBinding", "gcp:serviceaccount/iAMPolicy:IAMPolicy")
_PROJECT_IAM = ("gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding", "gcp:projects/iAMPolicy:IAMPolicy")
CAPABILITIES_BY_ROLE = {
    "roles/secretmanager.secretAccessor": (READ,),
    "roles/secretmanager.secretVersionAdder": (WRITE,),
    "roles/secretmanager.secretVersionManager": (WRITE, ADMIN),
    "roles/secretmanager.admin": (READ, WRITE, ADMIN),
    "roles/owner": (READ, WRITE, ADMIN),
    "roles/editor": (READ, WRITE, ADMIN),
}
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
_POOL_MEMBER = re.compile(r"^serviceAccount:([a-z0-9-]+)\.svc\.id\.goog\[([^/\]]+)/([^\]]+)\]$")
POOL = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
POOL_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
_FEDERATED_MEMBER = re.compile(r"^principal://iam\.googleapis\.com/projects/([^/]+)/locations/global/workloadIdentityPools/([^/]+)"
                               r"/subject/system:serviceaccount:([^:]+):([^:]+)$")
_POOL_SET = re.compile(r"^principalSet://iam\.googleapis\.com/projects/([^/]+)/locations/global/workloadIdentityPools/([^/]+)/\*$")
GKE_ISSUER = re.compile(r"^(?:https://)?container\.googleapis\.com/v1/projects/([^/]+)/locations/[^/]+/clusters/[^/]+$")
_SUB_IN = re.compile(r"^\s*assertion\.sub\s*in\s*\[([^\]]*)\]\s*$")
_SUB_IS = re.compile(r"^\s*assertion\.sub\s*==\s*['\"]([^'\"]+)['\"]\s*$")
_SECRET_NAME = re.compile(r"^projects/([^/]+)/secrets/([^/]+)$")


def secret_id(project: str, name: str) -> str:
    return f"gcp:{project}/{name}"


def account_id(email: str) -> str:
    return f"gcp-sa:{email}"


def _bindings(r: Resource) -> list[tuple[Any, list[str]]]:
    """(role, members) of an IAM Member, Binding or Policy resource."""
    if r.type.endswith("Policy"):
        data = r.props.get("policyData")
        try:
            data = json.loads(data) if isinstance(data, str) else data
        except ValueError:
            return []
        return [(dig(b, "role"), [m for m in entries(dig(b, "members")) if isinstance(m, str)]) for b in entries(dig(data, "bindings"))]
    if r.type.endswith("Binding"):
        return [(r.props.get("role"), [m for m in entries(r.props.get("members")) if isinstance(m, str)])]
    member = r.props.get("member")
    return [(r.props.get("role"), [member] if isinstance(member, str) else [])]


class GcpEstate:
    def __init__(self, resources: list[Resource]):
        self.secrets: dict[str, Secret] = {}
        self.accounts: dict[str, str] = {}  # `projects/<p>/serviceAccounts/<email>` or email -> email
        self.secret_iam: list[tuple[str, Resource]] = []
        self.account_iam: list[Resource] = []
        self.project_iam: list[Resource] = []
        self.providers: dict[str, list[Resource]] = {}  # pool id -> its providers
        self.pools: set[str] = set()
        self.gke_clusters: set[str] = set()  # projects of the GKE clusters gcpsm stores name (the matrix adds them)
        for r in resources:
            if r.type == SECRET:
                name, project = known_str(r.props.get("secretId")), known_str(r.props.get("project"))
                if name and project:
                    labels = r.props.get("labels") if isinstance(r.props.get("labels"), Mapping) else {}
                    sid = secret_id(project, name)
                    self.secrets[sid] = Secret(sid, "gcp", f"{project}/{name}", known_str(labels.get("classification")) or UNCLASSIFIED,
                                               location=f"projects/{project}/secrets/{name}")
            elif r.type == ACCOUNT:
                email = known_str(value(r, "email"))
                if email:
                    self.accounts[email] = email
                    self.accounts[f"projects/{known_str(r.props.get('project')) or '-'}/serviceAccounts/{email}"] = email
            elif r.type in _SECRET_IAM:
                self.secret_iam.append((known_str(r.props.get("secretId")) or "", r))
            elif r.type in _ACCOUNT_IAM:
                self.account_iam.append(r)
            elif r.type in _PROJECT_IAM:
                self.project_iam.append(r)
            elif r.type == POOL and known_str(r.props.get("workloadIdentityPoolId")) and r.props.get("disabled") is not True:
                self.pools.add(r.props["workloadIdentityPoolId"])
            elif r.type == POOL_PROVIDER and known_str(r.props.get("workloadIdentityPoolId")):
                self.providers.setdefault(r.props["workloadIdentityPoolId"], []).append(r)

    @property
    def issuers(self) -> set[str]:
        """OIDC issuers the federation providers trust (what the cluster's service account tokens say)."""
        return {i.removeprefix("https://").lower() for rs in self.providers.values() for r in rs if (i := known_str(dig(r.props, "oidc", "issuerUri")))}

    def federated(self, pool: str, namespace: str, name: str) -> tuple[str, str] | None:
        """(status, reason) of a federated principal: effective when a provider of the pool in the plan maps
        google.subject to assertion.sub and admits the subject; None when every provider refuses it."""
        subject = f"system:serviceaccount:{namespace}:{name}"
        if pool not in self.pools:
            return UNKNOWN, f"workload identity pool {pool} is not in the plan"
        found: tuple[str, str] | None = None
        for r in self.providers.get(pool, []):
            if r.props.get("disabled") is True or not known_str(dig(r.props, "oidc", "issuerUri")):
                continue
            if dig(r.props, "attributeMapping", "google.subject") != "assertion.sub":
                found = found or (UNKNOWN, f"provider {r.name} does not map google.subject to assertion.sub")
                continue
            condition = r.props.get("attributeCondition")
            if condition is None:
                return EFFECTIVE, ""  # no condition: every subject of the issuer (the policy pack reports it)
            if not isinstance(condition, str) or is_unknown(condition):
                found = found or (UNKNOWN, f"the attribute condition of provider {r.name} is unknown at preview")
                continue
            listed = _condition_subjects(condition)
            if listed is None:
                found = found or (UNKNOWN, f"the attribute condition of provider {r.name} is not decided offline")
            elif subject in listed:
                return EFFECTIVE, ""
        if found is None and not self.providers.get(pool):
            return UNKNOWN, f"workload identity pool {pool} has no OIDC provider in the plan"
        return found

    def pool_members(self) -> list[tuple[str, str, list[tuple[tuple[str, str], str, str]]]]:
        """(member, pool, [((namespace, service account) or a glob pair, status, reason)]) for each pool-wide
        `principalSet://…/workloadIdentityPools/<pool>/*` the plan binds: every subject a provider admits."""
        out = []
        for member in sorted({m for r in [r for _, r in self.secret_iam] + self.account_iam + self.project_iam
                              for _, members in _bindings(r) for m in members if _POOL_SET.match(m)}):
            pool = _POOL_SET.match(member)[2]
            admitted: list[tuple[tuple[str, str], str, str]] = []
            for r in self.providers.get(pool, []) if pool in self.pools else []:
                if r.props.get("disabled") is True or dig(r.props, "attributeMapping", "google.subject") != "assertion.sub":
                    continue
                condition = r.props.get("attributeCondition")
                listed = _condition_subjects(condition) if isinstance(condition, str) and not is_unknown(condition) else None
                if condition is None:
                    admitted.append((("*", "*"), EFFECTIVE, ""))
                elif listed is None:
                    admitted.append((("*", "*"), UNKNOWN, f"the attribute condition of provider {r.name} is not decided offline"))
                else:
                    admitted += [((sub.split(":")[2], sub.split(":")[3]), EFFECTIVE, "") for sub in sorted(listed)
                                 if sub.startswith("system:serviceaccount:") and sub.count(":") == 3]
            out.append((member, pool, admitted))
        return out

    def refuses_audiences(self, number: str, pool: str, provider_id: str, audiences: Any) -> str | None:
        """Why the provider an exchange names refuses the store's token audiences; None when it may accept them
        (or the plan cannot tell). Without allowedAudiences a provider accepts its own resource name."""
        provider = next((r for r in self.providers.get(pool, []) if r.props.get("workloadIdentityPoolProviderId") == provider_id), None)
        listed = [a for a in entries(audiences) if isinstance(a, str)]
        if provider is None or not listed or is_unknown(audiences):
            return None
        allowed = dig(provider.props, "oidc", "allowedAudiences")
        if is_unknown(allowed):
            return None
        name = f"iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{pool}/providers/{provider_id}"
        accepted = set(entries(allowed)) or {f"https://{name}", f"//{name}"}
        if accepted & set(listed):
            return None
        return f"provider {provider_id} of pool {pool} accepts no token audience the store requests ({', '.join(listed)})"

    def gke_pool(self, pool_project: str, issuers: set[str]) -> tuple[str, str]:
        """(status, reason) of a GKE pool binding: the pool accepts only tokens of GKE clusters of its project."""
        if pool_project in {m[1] for i in issuers if (m := GKE_ISSUER.match(i))}:
            return EFFECTIVE, ""
        others = sorted(i for i in issuers if not GKE_ISSUER.match(i))
        if not others and pool_project in self.gke_clusters:  # only a store's own wiring names the cluster
            return EFFECTIVE, ""
        if others:
            return BLOCKED, (f"pool {pool_project}.svc.id.goog accepts only tokens of GKE clusters of project {pool_project}; "
                             f"the cluster's service accounts are issued by https://{others[0]} (use Workload Identity Federation)")
        return UNKNOWN, f"the plan names no cluster whose tokens pool {pool_project}.svc.id.goog accepts"

    def lookup(self, project: str | None, key: str) -> str | None:
        """The secret an ExternalSecret of a gcpsm store names (`<id>` in the store's project, or a full name)."""
        match = _SECRET_NAME.match(key)
        sid = secret_id(*match.groups()) if match else secret_id(project, key) if project else None
        return sid if sid in self.secrets else None

    def _secret_of(self, reference: str) -> str | None:
        match = _SECRET_NAME.match(reference)
        if match:
            return secret_id(*match.groups())
        return None

    def add_to(self, graph: Graph) -> None:
        for secret in self.secrets.values():
            graph.secret(secret)
        for reference, r in self.secret_iam:
            target = self._secret_of(reference)
            for role, members in _bindings(r):
                for capability in CAPABILITIES_BY_ROLE.get(role, ()):
                    for member in members:
                        principal = self._principal(graph, member)
                        hop = f"{role} on secret {reference.rsplit('/', 1)[-1]} ({r.name})"
                        if target is None:
                            graph.unknown(principal, capability, (hop,), f"{r.name}: the secret is unknown at preview")
                        else:
                            graph.grant(principal, Grant(target, capability, EFFECTIVE, (hop,)))
        for r in self.project_iam:
            project = known_str(r.props.get("project"))
            for role, members in _bindings(r):
                for capability in CAPABILITIES_BY_ROLE.get(role, ()):
                    reached = [s for s in self.secrets.values() if project is None or s.name.startswith(f"{project}/")]
                    pattern = graph.secret(Secret(secret_id(project or "*", "*"), "gcp", f"{project or '*'}/*", UNCLASSIFIED, pattern=True))
                    for member in members:
                        principal = self._principal(graph, member)
                        hop = f"{role} on project {project or '(unknown)'} ({r.name})"
                        for secret in [*reached, graph.secrets[pattern]]:
                            graph.grant(principal, Grant(secret.id, capability, EFFECTIVE, (hop,)))

    def federated_members(self) -> list[tuple[tuple[str, str], str, str, str]]:
        """((namespace, service account), member, pool, project number) of every federated principal the plan binds."""
        out = {}
        for r in [r for _, r in self.secret_iam] + self.account_iam + self.project_iam:
            for _, members in _bindings(r):
                for member in members:
                    if match := _FEDERATED_MEMBER.match(member):
                        number, pool, namespace, name = match.groups()
                        out[member] = ((namespace, name), member, pool, number)
        return list(out.values())

    def workload_identity(self) -> list[tuple[tuple[str, str], str, str, tuple[str, str]]]:
        """((namespace, service account), Google service account principal id, hop, ("gke", the pool's project) or
        ("federated", pool id)) for each workloadIdentityUser binding."""
        out = []
        for r in self.account_iam:
            account = known_str(r.props.get("serviceAccountId")) or ""
            email = self.accounts.get(account) or account.rsplit("/", 1)[-1]
            for role, members in _bindings(r):
                if role != WORKLOAD_IDENTITY_USER:
                    continue
                for member in members:
                    match = _POOL_MEMBER.match(member)
                    if match:
                        pool, namespace, name = match.groups()
                        out.append(((namespace, name), account_id(email), f"impersonates {email} (workload identity, pool {pool}.svc.id.goog)", ("gke", pool)))
                    elif match := _FEDERATED_MEMBER.match(member):
                        _, pool, namespace, name = match.groups()
                        out.append(((namespace, name), account_id(email), f"impersonates {email} (federated, pool {pool})", ("federated", pool)))
        return out

    @staticmethod
    def _principal(graph: Graph, member: str) -> str:
        kind, _, name = member.partition(":")
        if kind == "serviceAccount" and not _POOL_MEMBER.match(member):
            return graph.principal(account_id(name), "gcp-service-account", name)
        if _FEDERATED_MEMBER.match(member):
            return graph.principal(f"gcp-member:{member}", "gcp-federated", member, "a federated Kubernetes service account (Workload Identity Federation)")
        return graph.principal(f"gcp-member:{member}", "gcp-member", member)

    def project_scope(self, project: str | None):
        def admits(secret: Secret) -> bool:
            return secret.backend == "unknown" or (secret.backend == "gcp" and (project is None or secret.name.startswith(f"{project}/")))

        return admits


def _condition_subjects(condition: str) -> set[str] | None:
    """The subjects an attribute condition admits, for the forms we write (`assertion.sub in [...]`,
    `assertion.sub == '...'`, joined by `||`); None for anything else."""
    admitted: set[str] = set()
    for part in condition.split("||"):
        part = part.strip().strip("()")
        if match := _SUB_IS.match(part):
            admitted.add(match[1])
        elif match := _SUB_IN.match(part):
            items = [i.strip() for i in match[1].split(",") if i.strip()]
            if not all(len(i) >= 2 and i[0] == i[-1] and i[0] in "'\"" for i in items):
                return None
            admitted |= {i[1:-1] for i in items}
        else:
            return None
    return admitted
