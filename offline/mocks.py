"""Mocks that answer like the clouds would: realistic ids and ARNs for every type we emit,
and a monitor that records each registration with its resource options, secrets redacted."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

REDACTED = "[secret]"


# An input object holding one secret field is sent whole as a secret. These known-safe fields of
# such objects stay readable in the plan (and to the policy rules); everything else is redacted.
VISIBLE_IN_SECRET_OBJECTS = {
    ("vault:database/secretBackendConnection:SecretBackendConnection", "postgresql"): frozenset(
        {"connectionUrl", "username", "passwordAuthentication", "passwordWoVersion"}
    ),
}


# What `pulumi preview --json` writes for a value not known until apply.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def redact(value: Any, visible: frozenset[str] = frozenset()) -> Any:
    """Replace every Pulumi secret in a deserialized property tree: nothing secret is recorded.
    Values unknown at preview become the engine's sentinel, as in a real preview document."""
    if isinstance(value, Unknown):
        return UNKNOWN
    if rpc.is_rpc_secret(value):
        inner = rpc.unwrap_rpc_secret(value)
        if visible and isinstance(inner, dict):
            return {k: (redact(v) if k in visible else REDACTED) for k, v in inner.items()}
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_inputs(type_: str, inputs: dict) -> dict:
    return {k: redact(v, VISIBLE_IN_SECRET_OBJECTS.get((type_, k), frozenset())) for k, v in inputs.items()}


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _uuid(*parts: str) -> str:
    return str(uuid.UUID(_digest(*parts)[:32]))


def _suffix(*parts: str) -> str:
    """Secrets Manager's six random ARN characters, stable per resource so plans diff cleanly."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    number = int(_digest(*parts), 16)
    return "".join(alphabet[(number >> (6 * i)) % len(alphabet)] for i in range(6))


@dataclass
class CloudMocks(pulumi.runtime.Mocks):
    """Answers per resource type. Account and region come from the aws provider's own inputs
    (the platform pins `allowedAccountIds` and `region`), so the mocks know nothing of the spec."""

    account_id: str = "000000000000"
    region: str = "us-east-1"
    provider_regions: dict[str, str] = field(default_factory=dict)
    azure_subscription: str = "00000000-0000-0000-0000-000000000000"  # from the azure-native provider's subscriptionId

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account_id, "arn": f"arn:aws:iam::{self.account_id}:root", "userId": "AIDAMOCK"}
        return {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = dict(args.inputs)
        if args.typ == "pulumi:providers:aws":
            # Provider config reaches the engine JSON-encoded when it is not a plain string.
            allowed = inputs.get("allowedAccountIds") or []
            allowed = json.loads(allowed) if isinstance(allowed, str) else allowed
            if allowed:
                self.account_id = allowed[0]
            self.region = inputs.get("region", self.region)
            provider_id = _uuid(args.typ, args.name)
            self.provider_regions[provider_id] = self.region
            return provider_id, inputs
        region = inputs.get("region") or self._provider_region(args.provider)
        if args.typ == "pulumi:providers:azure-native":
            self.azure_subscription = inputs.get("subscriptionId") or self.azure_subscription
            return _uuid(args.typ, args.name), inputs
        cloud = args.typ.split(":", 1)[0]
        prefix = {"aws": "", "gcp": "gcp_", "azure-native": "azure_", "kubernetes": "k8s_"}.get(cloud)
        answer = getattr(self, f"_{prefix}{args.typ.split(':')[-1].lower()}", None) if prefix is not None else None
        if answer is None:
            return args.resource_id or f"{args.name}-{_digest(args.typ, args.name)[:8]}", inputs
        resource_id, computed = answer(args.name, inputs, region)
        if args.resource_id:  # imported (`import_`): the resource keeps the id and ARN it has
            resource_id, computed = args.resource_id, {**computed, **self._imported(args.typ, args.resource_id, region)}
        return resource_id, {**inputs, **computed}

    def _imported(self, type_: str, import_id: str, region: str) -> dict:
        if type_ == "aws:secretsmanager/secret:Secret":
            return {"arn": import_id}
        if type_ == "aws:kms/key:Key":
            return {"keyId": import_id, "arn": f"arn:aws:kms:{region}:{self.account_id}:key/{import_id}"}
        return {}

    def _provider_region(self, provider: str | None) -> str:
        provider_id = (provider or "").rpartition("::")[2]
        return self.provider_regions.get(provider_id, self.region)

    # ----- per type: (id, computed outputs) -----

    def _key(self, name: str, inputs: dict, region: str):
        key_id = ("mrk-" + _digest("key", name)[:32]) if inputs.get("multiRegion") else _uuid("key", name)
        return key_id, {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{self.account_id}:key/{key_id}"}

    def _replicakey(self, name: str, inputs: dict, region: str):
        key_id = str(inputs.get("primaryKeyArn", "")).rpartition("/")[2] or _uuid("replica", name)
        return key_id, {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{self.account_id}:key/{key_id}"}

    def _alias(self, name: str, inputs: dict, region: str):
        alias = inputs.get("name", f"alias/{name}")
        return alias, {"arn": f"arn:aws:kms:{region}:{self.account_id}:{alias}"}

    def _secret(self, name: str, inputs: dict, region: str):
        path = inputs.get("name", name)
        arn = f"arn:aws:secretsmanager:{region}:{self.account_id}:secret:{path}-{_suffix(path, region)}"
        return arn, {"arn": arn}

    def _secretversion(self, name: str, inputs: dict, region: str):
        version_id = _uuid("version", name)
        return f"{inputs.get('secretId')}|{version_id}", {"versionId": version_id, "arn": inputs.get("secretId")}

    def _role(self, name: str, inputs: dict, region: str):
        role_name = inputs.get("name", name)
        return role_name, {
            "arn": f"arn:aws:iam::{self.account_id}:role{inputs.get('path', '/')}{role_name}",
            "uniqueId": "AROA" + _digest("role", role_name)[:17].upper(),
        }

    def _rolepolicy(self, name: str, inputs: dict, region: str):
        return f"{inputs.get('role')}:{inputs.get('name', name)}", {}

    def _loggroup(self, name: str, inputs: dict, region: str):
        group = inputs.get("name", name)
        return group, {"arn": f"arn:aws:logs:{region}:{self.account_id}:log-group:{group}"}

    def _topic(self, name: str, inputs: dict, region: str):
        arn = f"arn:aws:sns:{region}:{self.account_id}:{inputs.get('name') or name}"
        return arn, {"arn": arn}

    def _function(self, name: str, inputs: dict, region: str):
        function = inputs.get("name", name)
        arn = f"arn:aws:lambda:{region}:{self.account_id}:function:{function}"
        return function, {"arn": arn, "qualifiedArn": f"{arn}:$LATEST", "version": "$LATEST"}

    def _bucket(self, name: str, inputs: dict, region: str):
        bucket = inputs.get("bucket", name)
        return bucket, {"arn": f"arn:aws:s3:::{bucket}", "bucket": bucket}

    def _trail(self, name: str, inputs: dict, region: str):
        arn = f"arn:aws:cloudtrail:{region}:{self.account_id}:trail/{inputs.get('name', name)}"
        return arn, {"arn": arn}

    def _secretrotation(self, name: str, inputs: dict, region: str):
        return inputs.get("secretId", name), {"rotationEnabled": True}


    # ----- GCP: ids as the Google provider reports them (`projects/<project>/...`) -----

    @staticmethod
    def service_account_token(namespace: str, service_account: str) -> str:
        """What the token controller writes into a service-account-token Secret (stands in for a JWT)."""
        return f"mock-service-account-token.{namespace}.{service_account}.{_digest('token', namespace, service_account)[:16]}"

    def _k8s_secret(self, name: str, inputs: dict, region: str):
        """A service-account-token Secret comes back with its token, as a secret, as the provider returns it."""
        meta = inputs.get("metadata") or {}
        if inputs.get("type") != "kubernetes.io/service-account-token" or not isinstance(meta, dict):
            return f"{meta.get('namespace')}/{meta.get('name')}" if isinstance(meta, dict) else name, {}
        account = (meta.get("annotations") or {}).get("kubernetes.io/service-account.name", "")
        token = self.service_account_token(meta.get("namespace", "default"), account)
        return f"{meta.get('namespace')}/{meta.get('name')}", {"data": rpc.wrap_rpc_secret({"token": base64.b64encode(token.encode()).decode()})}

    @staticmethod
    def gcp_project_number(project: str) -> str:
        return str(int(_digest("project", project), 16) % 10**12).rjust(12, "1")

    def _gcp_serviceidentity(self, name: str, inputs: dict, region: str):
        project, service = inputs.get("project", "mock-project"), inputs.get("service", "")
        email = f"service-{self.gcp_project_number(project)}@gcp-sa-{service.split('.')[0]}.iam.gserviceaccount.com"
        return f"projects/{project}/services/{service}", {"email": email, "member": f"serviceAccount:{email}"}

    def _gcp_keyring(self, name: str, inputs: dict, region: str):
        ring = f"projects/{inputs.get('project', 'mock-project')}/locations/{inputs.get('location')}/keyRings/{inputs.get('name', name)}"
        return ring, {}

    def _gcp_cryptokey(self, name: str, inputs: dict, region: str):
        key = f"{inputs.get('keyRing')}/cryptoKeys/{inputs.get('name', name)}"
        return key, {"primaries": [{"name": f"{key}/cryptoKeyVersions/1", "state": "ENABLED"}]}

    def _gcp_secret(self, name: str, inputs: dict, region: str):
        project = inputs.get("project", "mock-project")
        secret = f"projects/{project}/secrets/{inputs.get('secretId', name)}"
        return secret, {"name": f"projects/{self.gcp_project_number(project)}/secrets/{inputs.get('secretId', name)}"}

    def _gcp_secretversion(self, name: str, inputs: dict, region: str):
        version = f"{inputs.get('secret')}/versions/1"
        return version, {"name": version, "version": "1"}

    def _gcp_account(self, name: str, inputs: dict, region: str):
        project, account = inputs.get("project", "mock-project"), inputs.get("accountId", name)
        email = f"{account}@{project}.iam.gserviceaccount.com"
        return f"projects/{project}/serviceAccounts/{email}", {
            "email": email, "name": f"projects/{project}/serviceAccounts/{email}", "member": f"serviceAccount:{email}",
            "uniqueId": str(int(_digest("account", email), 16) % 10**21).rjust(21, "1"),
        }

    def _gcp_topic(self, name: str, inputs: dict, region: str):
        topic = f"projects/{inputs.get('project', 'mock-project')}/topics/{inputs.get('name', name)}"
        return topic, {}

    def _gcp_iammember(self, name: str, inputs: dict, region: str):
        parent = inputs.get("serviceAccountId") or inputs.get("secretId") or inputs.get("cryptoKeyId") or inputs.get("topic") or inputs.get("project")
        return f"{parent}/{inputs.get('role')}/{inputs.get('member')}", {"etag": "BwYmock" + _digest(name)[:6]}

    _gcp_secretiammember = _gcp_cryptokeyiammember = _gcp_topiciammember = _gcp_iammember


    # ----- Azure: ARM resource ids, Entra object/client ids (GUIDs), the vault's URI -----

    def _azure_rg(self, inputs: dict) -> str:
        return f"/subscriptions/{self.azure_subscription}/resourceGroups/{inputs.get('resourceGroupName', 'mock-rg')}"

    def _azure_vault(self, name: str, inputs: dict, region: str):
        vault = inputs.get("vaultName", name)
        properties = {**(inputs.get("properties") or {}), "vaultUri": f"https://{vault.lower()}.vault.azure.net/"}
        return f"{self._azure_rg(inputs)}/providers/Microsoft.KeyVault/vaults/{vault}", {"properties": properties, "name": vault}

    def _azure_userassignedidentity(self, name: str, inputs: dict, region: str):
        identity = inputs.get("resourceName", name)
        resource_id = f"{self._azure_rg(inputs)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}"
        return resource_id, {"name": identity, "clientId": _uuid("client", resource_id), "principalId": _uuid("principal", resource_id)}

    def _azure_federatedidentitycredential(self, name: str, inputs: dict, region: str):
        identity, credential = inputs.get("resourceName", "identity"), inputs.get("federatedIdentityCredentialResourceName", name)
        resource_id = f"{self._azure_rg(inputs)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}/federatedIdentityCredentials/{credential}"
        return resource_id, {"name": credential}

    def _azure_roleassignment(self, name: str, inputs: dict, region: str):
        assignment = inputs.get("roleAssignmentName") or _uuid("assignment", name)
        return f"{inputs.get('scope', '')}/providers/Microsoft.Authorization/roleAssignments/{assignment}", {"name": assignment}

    def _azure_diagnosticsetting(self, name: str, inputs: dict, region: str):
        return f"{inputs.get('resourceUri', '')}/providers/Microsoft.Insights/diagnosticSettings/{inputs.get('name', name)}", {}

    def _azure_systemtopic(self, name: str, inputs: dict, region: str):
        topic = inputs.get("systemTopicName", name)
        return f"{self._azure_rg(inputs)}/providers/Microsoft.EventGrid/systemTopics/{topic}", {"name": topic}

    def _azure_systemtopiceventsubscription(self, name: str, inputs: dict, region: str):
        topic, subscription = inputs.get("systemTopicName", "topic"), inputs.get("eventSubscriptionName", name)
        return f"{self._azure_rg(inputs)}/providers/Microsoft.EventGrid/systemTopics/{topic}/eventSubscriptions/{subscription}", {"name": subscription}


@dataclass(frozen=True)
class Registration:
    """One planned resource as the engine would receive it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    provider: str
    protect: bool
    retain_on_delete: bool
    ignore_changes: tuple[str, ...]
    dependencies: tuple[str, ...]
    inputs: dict
    outputs: dict
    import_id: str = ""
    """The `import_` id: the resource exists and `pulumi up` adopts it; empty: it is created."""

    @property
    def operation(self) -> str:
        return "import" if self.import_id else "create"

    def as_policy_resource(self) -> dict:
        return {"type": self.type, "urn": self.urn, "name": self.name, "props": self.inputs}


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: CloudMocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = redact_inputs(request.type, rpc.deserialize_properties(request.object))
            state = self.resources.get(response.urn)
            self.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    custom=request.custom,
                    provider=request.provider,
                    protect=request.protect,
                    retain_on_delete=request.retainOnDelete,
                    ignore_changes=tuple(request.ignoreChanges),
                    dependencies=tuple(request.dependencies),
                    inputs=inputs,
                    outputs=redact_inputs(request.type, state.state) if state else {},
                    import_id=request.importId,
                )
            )
        return response
