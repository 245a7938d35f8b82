"""GCP: who may read or write each Secret Manager secret.

- A secret's own IAM (SecretIamMember/Binding/Policy) grants its members: secretAccessor reads,
  secretVersionAdder/Manager writes, admin and owner administer (and read and write).
- IAM at project level reaches every secret of the project (and any created later: a pattern secret).
- A Google service account is impersonated through GKE workload identity by the Kubernetes service
  accounts its `roles/iam.workloadIdentityUser` binding names: `serviceAccount:<pool>[<ns>/<sa>]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from offline.access.model import ADMIN, EFFECTIVE, READ, UNCLASSIFIED, WRITE, Grant, Graph, Resource, Secret, known_str, value
from documents.props import dig, entries

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

    def workload_identity(self) -> list[tuple[tuple[str, str], str, str]]:
        """((namespace, service account), Google service account principal id, hop) for each workloadIdentityUser binding."""
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
                        out.append(((namespace, name), account_id(email), f"impersonates {email} (workload identity, pool {pool}.svc.id.goog)"))
        return out

    @staticmethod
    def _principal(graph: Graph, member: str) -> str:
        kind, _, name = member.partition(":")
        if kind == "serviceAccount" and not _POOL_MEMBER.match(member):
            return graph.principal(account_id(name), "gcp-service-account", name)
        return graph.principal(f"gcp-member:{member}", "gcp-member", member)

    def project_scope(self, project: str | None):
        def admits(secret: Secret) -> bool:
            return secret.backend == "unknown" or (secret.backend == "gcp" and (project is None or secret.name.startswith(f"{project}/")))

        return admits
