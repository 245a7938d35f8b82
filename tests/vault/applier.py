"""Apply the Vault resources of an offline plan to a real Vault-compatible server through hvac.

What is checked afterwards is exactly what `pulumi up` would create: the inputs are the ones the
program registered (camelCase, as the engine receives them), translated one-to-one to the Vault
HTTP API fields the pulumi-vault provider writes. Only values that cannot come from a plan are
overridden: where the database really is, the database password and the token reviewer's token
(recorded as redacted secrets), and, for an in-cluster plan, where the Kubernetes API is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import hvac

from offline.mocks import REDACTED, Registration
from offline.run import Plan

# Dependency order of the Vault resource types the platform emits.
ORDER = (
    "vault:index/audit:Audit",  # first: every later request is recorded
    "vault:index/mount:Mount",
    "vault:kv/secretBackendV2:SecretBackendV2",
    "vault:index/authBackend:AuthBackend",
    "vault:kubernetes/authBackendConfig:AuthBackendConfig",
    "vault:index/policy:Policy",
    "vault:kubernetes/authBackendRole:AuthBackendRole",
    "vault:appRole/authBackendRole:AuthBackendRole",
    "vault:database/secretBackendConnection:SecretBackendConnection",
    "vault:database/secretBackendRole:SecretBackendRole",
)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _ints(data: dict) -> dict:
    """Protobuf carries numbers as doubles; Vault wants whole seconds."""
    return {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in data.items()}


@dataclass
class Overrides:
    kubernetes_host: str | None = None
    kubernetes_ca_cert: str | None = None
    token_reviewer_jwt: str | None = None  # the token the cluster puts into the planned reviewer token Secret
    database_host: str | None = None
    database_port: int | None = None
    database_password: str | None = None
    database_ssl_mode: str | None = None
    # Where the planned file audit device writes on this server; None: the device is not applied (the shared dev
    # server refuses API-enabled audit devices, as OpenBao 2.3+ does by default, and would log every other test).
    audit_file_path: str | None = None
    applied: list[str] = field(default_factory=list)


SYSTEM_MOUNTS = ("cubbyhole/", "identity/", "sys/")
SYSTEM_POLICIES = ("root", "default")


def reset(client: hvac.Client) -> None:
    """Back to an empty server (the dev server pre-mounts `secret/`), so each estate is applied
    exactly as `pulumi up` would apply it to a fresh Vault."""
    for path in client.sys.list_mounted_secrets_engines()["data"]:
        if path not in SYSTEM_MOUNTS:
            client.sys.disable_secrets_engine(path)
    for path in client.sys.list_auth_methods()["data"]:
        if path != "token/":
            client.sys.disable_auth_method(path)
    for path in client.sys.list_enabled_audit_devices()["data"]:
        client.sys.disable_audit_device(path)
    for name in client.sys.list_policies()["data"]["policies"]:
        if name not in SYSTEM_POLICIES:
            client.sys.delete_policy(name)


def apply_plan(plan: Plan, client: hvac.Client, overrides: Overrides) -> list[str]:
    vault_resources = [r for r in plan.resources if r.type in ORDER and (r.type != "vault:index/audit:Audit" or overrides.audit_file_path)]
    for resource in sorted(vault_resources, key=lambda r: ORDER.index(r.type)):
        apply_resource(resource, client, overrides)
        overrides.applied.append(f"{resource.type} {resource.name}")
    return overrides.applied


def apply_resource(r: Registration, client: hvac.Client, o: Overrides) -> None:
    """One planned Vault resource, as `pulumi up` would write it."""
    i: dict[str, Any] = _ints(dict(r.inputs))
    if r.type == "vault:index/audit:Audit":
        options = dict(i["options"])
        if options.get("file_path"):  # the plan's path is on the Vault server's audit volume; here, the test's directory
            options["file_path"] = o.audit_file_path
        client.sys.enable_audit_device(device_type=i["type"], path=i["path"], description=i.get("description"), options=options)
    elif r.type == "vault:index/mount:Mount":
        client.sys.enable_secrets_engine(backend_type=i["type"], path=i["path"], options=i.get("options"), description=i.get("description"))
    elif r.type == "vault:kv/secretBackendV2:SecretBackendV2":
        data = {"max_versions": i["maxVersions"], "cas_required": i["casRequired"]}
        if i.get("deleteVersionAfter"):
            data["delete_version_after"] = f"{i['deleteVersionAfter']}s"
        client.write(f"{i['mount']}/config", **data)
    elif r.type == "vault:index/authBackend:AuthBackend":
        client.sys.enable_auth_method(method_type=i["type"], path=i["path"], description=i.get("description"))
    elif r.type == "vault:kubernetes/authBackendConfig:AuthBackendConfig":
        data = {"kubernetes_host": o.kubernetes_host or i["kubernetesHost"], "disable_local_ca_jwt": bool(i.get("disableLocalCaJwt"))}
        if o.kubernetes_host:  # an in-cluster plan applied outside any pod: no local service account CA or JWT
            data["disable_local_ca_jwt"] = True
            data["kubernetes_ca_cert"] = o.kubernetes_ca_cert
        for key in ("kubernetesCaCert", "issuer"):
            if i.get(key):
                data[snake(key)] = i[key]
        if "tokenReviewerJwt" in i and i["tokenReviewerJwt"] is not None:
            # A secret: the plan holds only its redaction; the token is the one the cluster's token
            # controller writes into the planned Secret (the test mints it for that Secret's account).
            assert i["tokenReviewerJwt"] == REDACTED, "the reviewer token is in the plan"
            assert o.token_reviewer_jwt, "the plan configures a token reviewer: give its token (Overrides.token_reviewer_jwt)"
            data["token_reviewer_jwt"] = o.token_reviewer_jwt
        client.write(f"auth/{i['backend']}/config", **data)
    elif r.type == "vault:index/policy:Policy":
        client.sys.create_or_update_policy(name=i["name"], policy=i["policy"])
    elif r.type in ("vault:kubernetes/authBackendRole:AuthBackendRole", "vault:appRole/authBackendRole:AuthBackendRole"):
        data = {snake(k): v for k, v in i.items() if k not in ("backend", "roleName")}
        client.write(f"auth/{i['backend']}/role/{i['roleName']}", **data)
    elif r.type == "vault:database/secretBackendConnection:SecretBackendConnection":
        postgres = i["postgresql"]
        url = postgres["connectionUrl"]
        if o.database_host:
            url = re.sub(r"@[^/]+/", f"@{o.database_host}:{o.database_port}/", url)
        if o.database_ssl_mode:
            url = re.sub(r"sslmode=[a-z\-]+", f"sslmode={o.database_ssl_mode}", url)
        client.write(
            f"{i['backend']}/config/{i['name']}",
            plugin_name=i["pluginName"],
            allowed_roles=i["allowedRoles"],
            verify_connection=i["verifyConnection"],
            connection_url=url,
            username=postgres["username"],
            password=o.database_password,
            password_authentication=postgres["passwordAuthentication"],
        )
        # What the README asks operators to do once: Vault takes the root password over.
        client.write(f"{i['backend']}/rotate-root/{i['name']}")
    elif r.type == "vault:database/secretBackendRole:SecretBackendRole":
        client.write(
            f"{i['backend']}/roles/{i['name']}",
            db_name=i["dbName"],
            creation_statements=i["creationStatements"],
            revocation_statements=i.get("revocationStatements", []),
            default_ttl=i["defaultTtl"],
            max_ttl=i["maxTtl"],
        )
