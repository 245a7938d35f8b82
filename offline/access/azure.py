"""Azure Key Vault: which managed identities hold which Key Vault roles on which secrets, and which
Kubernetes service accounts may act as those identities (federated identity credentials).

- A role assignment grants its principal the role's data actions at its scope: one secret
  (`.../vaults/<v>/secrets/<s>`), a whole vault, or everything under a resource group, subscription or
  management group. Secrets User reads; Secrets Officer and Key Vault Administrator also write and
  delete; Owner, User Access Administrator and RBAC Administrator can grant themselves any of those,
  so they count as admin.
- A federated identity credential with subject `system:serviceaccount:<ns>:<sa>` and audience
  `api://AzureADTokenExchange` lets that service account's token sign in as the identity.

Key Vault secrets are not resources of the plan (values are written out of band): the known secrets
are those named by secret-scoped assignments and by ExternalSecrets of Azure stores; a wider scope
also stands for every secret created later (a pattern)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from offline.access.model import ADMIN, EFFECTIVE, READ, UNKNOWN, WRITE, Grant, Graph, Resource, Secret, known_str, value
from documents.props import entries, is_unknown
from policy.rules.azure import KEY_VAULT_DATA_ROLES, PRIVILEGED_ROLES, ROLE_ASSIGNMENT, scope_kind

IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
FEDERATED_CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
_SUBJECT = re.compile(r"^system:serviceaccount:([^:]+):([^:]+)$")
_SECRET_SCOPE = re.compile(r"^(?P<vault>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.keyvault/vaults/(?P<name>[^/]+))(/secrets/(?P<secret>[^/]+))?/?$", re.I)
_VAULT_HOST = re.compile(r"^https://([a-z0-9-]+)\.vault\.azure\.net/?$", re.I)

# Capabilities per role GUID (lower case); roles not listed give no access to secret contents.
ROLE_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "4633458b-17de-408a-b874-0445c86b69e6": (READ,),  # Key Vault Secrets User
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": (READ, WRITE, ADMIN),  # Key Vault Secrets Officer
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": (READ, WRITE, ADMIN),  # Key Vault Administrator
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": (ADMIN,),  # Owner: may assign itself any data role
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": (ADMIN,),  # User Access Administrator
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": (ADMIN,),  # Role Based Access Control Administrator
    "8b54135c-b56d-4d72-a534-26097cfdc8d8": (ADMIN,),  # Key Vault Data Access Administrator
}
ROLE_NAMES = {**PRIVILEGED_ROLES, **KEY_VAULT_DATA_ROLES}


def secret_id(vault: str, name: str) -> str:
    return f"azure:{vault.lower()}/{name}"


@dataclass(frozen=True)
class Federation:
    identity: str  # the identity's name
    service_account: tuple[str, str]
    status: str
    reason: str = ""
    issuer: str = ""


class AzureEstate:
    def __init__(self, resources: list[Resource]):
        self.identities: dict[str, str] = {}  # principal (object) id -> identity name
        self.federations: list[Federation] = []
        self.assignments: list[Resource] = []
        self.known: dict[str, set[str]] = {}  # vault name (lower) -> secret names
        self.vault_ids: dict[str, str] = {}  # vault name (lower) -> ARM id (lower), when a scope names it
        self.notes: list[str] = []
        for r in resources:
            if r.type == IDENTITY:
                name = known_str(value(r, "resourceName")) or r.name
                principal = known_str(r.outputs.get("principalId"))
                if principal:
                    self.identities[principal] = name
                self.identities.setdefault(f"name:{name}", name)
            elif r.type == FEDERATED_CREDENTIAL:
                self._federation(r)
            elif r.type == ROLE_ASSIGNMENT:
                self.assignments.append(r)
                scope = known_str(r.props.get("scope"))
                match = _SECRET_SCOPE.match(scope) if scope else None
                if match:
                    vault = match["name"].lower()
                    self.vault_ids[vault] = match["vault"].lower()
                    self.known.setdefault(vault, set())
                    if match["secret"]:
                        self.known[vault].add(match["secret"])

    def _federation(self, r: Resource) -> None:
        identity = known_str(value(r, "resourceName"))
        subject, audiences = value(r, "subject"), value(r, "audiences")
        match = _SUBJECT.match(subject) if known_str(subject) else None
        if identity is None or match is None:
            self.notes.append(f"federated credential {r.name}: its identity or subject is unknown at preview or not a service account")
            return
        if is_unknown(audiences) or TOKEN_EXCHANGE_AUDIENCE not in entries(audiences):
            status, reason = (UNKNOWN, "its audiences are unknown at preview") if is_unknown(audiences) else (None, "")
            if status is None:
                self.notes.append(f"federated credential {r.name}: audience is not {TOKEN_EXCHANGE_AUDIENCE}; no token exchange")
                return
        else:
            status, reason = EFFECTIVE, ""
        self.federations.append(Federation(identity, (match[1], match[2]), status, reason, known_str(value(r, "issuer")) or ""))

    def principal_id(self, identity_name: str) -> str:
        return f"azure-identity:{identity_name}"

    def store_key(self, vault_url: str | None, key: str) -> str | None:
        """The secret an ExternalSecret of an Azure store fetches (`remoteRef.key` is the secret's name)."""
        match = _VAULT_HOST.match(vault_url or "")
        if not match:
            return None
        vault, name = match[1].lower(), key.split("/", 1)[-1] if key.startswith("secret/") else key
        self.known.setdefault(vault, set()).add(name)
        return secret_id(vault, name)

    def vault_scope(self, vault_url: str | None):
        """Which secrets a store of `vault_url` can fetch: those of that vault."""
        match = _VAULT_HOST.match(vault_url or "")
        vault = match[1].lower() if match else None

        def admits(secret: Secret) -> bool:
            if secret.backend == "unknown":
                return True
            return secret.backend == "azure" and (vault is None or secret.id.startswith(f"azure:{vault}/"))

        return admits

    def add_to(self, graph: Graph) -> None:
        for vault, names in self.known.items():
            for name in names:
                graph.secret(Secret(secret_id(vault, name), "azure", f"{vault}/{name}", location=f"https://{vault}.vault.azure.net/secrets/{name}"))
        for principal, name in self.identities.items():
            if not principal.startswith("name:"):
                graph.principal(self.principal_id(name), "azure-identity", name, "user-assigned managed identity")
        for r in self.assignments:
            self._assignment(graph, r)

    def _assignment(self, graph: Graph, r: Resource) -> None:
        definition, scope, principal = r.props.get("roleDefinitionId"), r.props.get("scope"), r.props.get("principalId")
        role = definition.rstrip("/").rsplit("/", 1)[-1].lower() if known_str(definition) else None
        if role is not None and role not in ROLE_CAPABILITIES:
            return
        if known_str(principal) and principal in self.identities:
            node = self.principal_id(self.identities[principal])
        else:
            label = known_str(principal) or "(unknown at preview)"
            node = graph.principal(f"azure-principal:{label}", "azure-principal", label, "an Entra principal outside the plan")
        if role is None:
            graph.unknown(node, READ, (f"role assignment {r.name}",), f"role assignment {r.name}: its role is unknown at preview")
            return
        name = ROLE_NAMES.get(role, role)
        if not known_str(scope):
            for capability in ROLE_CAPABILITIES[role]:
                graph.unknown(node, capability, (f"{name} (role assignment {r.name})",), f"role assignment {r.name}: its scope is unknown at preview")
            return
        kind, match = scope_kind(scope), _SECRET_SCOPE.match(scope)
        where = f"on secret {match['secret']}" if match and match["secret"] else f"at {kind} scope"
        hop = f"{name} {where} (role assignment {r.name})"
        if match and match["secret"]:
            targets = [secret_id(match["name"], match["secret"])]
        else:
            prefix = scope.lower().rstrip("/")
            vaults = [v for v in self.known if v == (match["name"].lower() if match else None) or (not match and self.vault_ids.get(v, prefix).startswith(prefix))]
            targets = [secret_id(v, s) for v in vaults for s in self.known[v]]
            # The scope also covers every secret created later in it.
            pattern = f"azure:{match['name'].lower()}/*" if match else f"azure:{prefix}/*"
            graph.secret(Secret(pattern, "azure", f"every secret under {kind} {match['name'] if match else prefix.rsplit('/', 1)[-1]}", pattern=True, location=scope))
            targets.append(pattern)
        for target in targets:
            for capability in ROLE_CAPABILITIES[role]:
                graph.grant(node, Grant(target, capability, EFFECTIVE, (hop,)))
