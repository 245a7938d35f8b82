"""Read a Vault (or OpenBao) estate: the KV paths of one mount, the policies that name it, and the
Kubernetes and AppRole login roles that carry those policies.

List and describe only: LIST on KV metadata, metadata reads (versions, custom metadata), policy text,
auth role configuration. Never a data read (`<mount>/data/...`), never a role id or secret id, never a write.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, TypeVar
from urllib.parse import urlparse

from offline.discover.model import DiscoverError, Estate, FoundIdentity, FoundSecret
from policy.rules.vault import PolicyParseError, is_glob, parse_policy

MOUNT, KV_SECRET, POLICY = "vault:index/mount:Mount", "vault:kv/secretV2:SecretV2", "vault:index/policy:Policy"
KUBERNETES_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
APPROLE_ROLE = "vault:appRole/authBackendRole:AuthBackendRole"
MAX_PATHS = 10_000  # a mount larger than this is listed partly, and the report says so
T = TypeVar("T")


def _client(address: str, token: str) -> Any:
    import hvac
    import requests

    session = requests.Session()
    host = urlparse(address).hostname or ""
    try:
        session.trust_env = not ipaddress.ip_address(host).is_loopback  # a proxy never reaches loopback
    except ValueError:
        session.trust_env = host != "localhost"
    return hvac.Client(url=address, token=token, session=session, timeout=15)


_REQUIRED = object()


def _call(address: str, operation: str, fn: Callable[[], T], missing: Any = _REQUIRED) -> T:
    """Every Vault call; `missing` is the answer when the path does not exist (Vault's 404 for an empty list)."""
    import hvac.exceptions
    import requests

    try:
        return fn()
    except hvac.exceptions.InvalidPath:
        if missing is _REQUIRED:
            raise DiscoverError(f"Vault has nothing at the path of {operation}") from None
        return missing
    except requests.exceptions.RequestException as error:
        raise DiscoverError(f"cannot reach Vault at {address} ({operation}: {type(error).__name__})") from None
    except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
        raise DiscoverError(f"no permission: Vault refused {operation} to the token; discovery needs list and read on "
                            "sys/mounts, sys/auth, sys/policies/acl, the auth roles and the KV metadata") from None
    except hvac.exceptions.VaultError as error:
        raise DiscoverError(f"Vault refused {operation} ({type(error).__name__})") from None


def discover_vault(address: str, token: str, mount: str) -> Estate:
    mount = mount.strip("/")
    client = _client(address, token)
    estate = Estate(source=f"Vault at {address}, KV mount `{mount}`", vault_address=address.rstrip("/"))
    mounts = _call(address, "listing the secrets engines (sys/mounts)", lambda: client.sys.list_mounted_secrets_engines())
    mounts = mounts.get("data", mounts)
    found = mounts.get(f"{mount}/")
    if not found:
        raise DiscoverError(f"Vault at {address} has no secrets engine mounted at {mount}/")
    version = "2" if found.get("type") == "kv-v2" or (found.get("type") == "kv" and str((found.get("options") or {}).get("version")) == "2") else "1"
    if found.get("type") not in ("kv", "kv-v2", "generic"):
        raise DiscoverError(f"Vault at {address}: {mount}/ is a {found.get('type')} engine, not a KV mount")
    estate.add(MOUNT, mount, {"path": mount, "type": "kv-v2" if version == "2" else "kv"})

    paths = _kv_paths(client, address, mount, version, estate)
    if not paths:
        raise DiscoverError(f"nothing under the Vault mount {mount}/ at {address}: it holds no secret")
    for path in paths:
        metadata = _metadata(client, address, mount, path) if version == "2" else {}
        custom = metadata.get("custom_metadata") or {}
        estate.secrets.append(FoundSecret(
            backend="vault", path=path, mount=mount, matrix_id=f"vault:{mount}/{path}",
            adopt=f"{mount}/data/{path}" if version == "2" else f"{mount}/{path}",
            classification=(custom.get("classification") or "").lower() or None))
        estate.add(KV_SECRET, f"{mount}/{path}", {"mount": mount, "name": path,
                                                   **({"customMetadata": {"data": custom}} if custom else {})})

    policies = _policies(client, address, mount, estate)
    _auth_roles(client, address, set(policies), estate)
    return estate


def _kv_paths(client: Any, address: str, mount: str, version: str, estate: Estate) -> list[str]:
    """Every secret path of the mount, by LIST on its metadata (KV v2) or on the mount (KV v1)."""
    kv = client.secrets.kv.v2 if version == "2" else client.secrets.kv.v1
    out, pending = [], [""]
    while pending:
        folder = pending.pop()
        answer = _call(address, f"listing {mount}/{folder}", lambda: kv.list_secrets(path=folder, mount_point=mount), missing=None)
        for key in (answer or {}).get("data", {}).get("keys", []):  # an empty folder answers 404
            (pending if key.endswith("/") else out).append(f"{folder}{key}")
        if len(out) > MAX_PATHS:
            estate.notes.append(f"{mount}/ holds more than {MAX_PATHS} secrets; the draft lists the first {MAX_PATHS}")
            break
    return sorted(out)[:MAX_PATHS]


def _metadata(client: Any, address: str, mount: str, path: str) -> dict[str, Any]:
    answer = _call(address, f"reading the metadata of {mount}/{path}",
                   lambda: client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount))
    return answer.get("data") or {}


def _touches(path: str, mount: str) -> bool:
    """A policy path that can reach the mount: under it, or a glob whose literal part is a prefix of it."""
    if path.startswith(f"{mount}/") or path == mount:
        return True
    stem = path.split("*", 1)[0].split("+", 1)[0]
    return is_glob(path) and f"{mount}/".startswith(stem)


def _policies(client: Any, address: str, mount: str, estate: Estate) -> list[str]:
    names = _call(address, "listing the policies (sys/policies/acl)", lambda: client.sys.list_acl_policies())
    names = (names.get("data") or names).get("keys", [])
    out = []
    for name in sorted(names):
        if name in ("root", "default"):
            continue
        text = _call(address, f"reading policy {name}", lambda: client.sys.read_acl_policy(name))
        text = (text.get("data") or text).get("policy", "")
        try:
            blocks = parse_policy(text)
        except PolicyParseError:
            estate.notes.append(f"Vault policy {name} cannot be parsed; it is listed but not evaluated")
            blocks = []
        if any(_touches(b.path, mount) for b in blocks):
            out.append(name)
            estate.add(POLICY, name, {"name": name, "policy": text})
    return out


def _auth_roles(client: Any, address: str, policies: set[str], estate: Estate) -> None:
    """Kubernetes and AppRole roles whose tokens carry one of the policies that reach the mount."""
    methods = _call(address, "listing the auth methods (sys/auth)", lambda: client.sys.list_auth_methods())
    methods = methods.get("data", methods)
    for path, method in sorted(methods.items()):
        kind, backend = method.get("type"), path.strip("/")
        if kind not in ("kubernetes", "approle"):
            continue
        names = _call(address, f"listing the roles of auth/{backend}", lambda: client.adapter.list(f"/v1/auth/{backend}/role"), missing=None)
        for name in (names or {}).get("data", {}).get("keys", []):
            role = _call(address, f"reading auth/{backend}/role/{name}", lambda: client.adapter.get(f"/v1/auth/{backend}/role/{name}"))["data"]
            token_policies = tuple(role.get("token_policies") or role.get("policies") or ())
            if not set(token_policies) & policies:
                continue
            adopt = {"vault_role": f"auth/{backend}/role/{name}", **{f"vault_policy:{p}": p for p in token_policies if p in policies}}
            common = {"backend": backend, "roleName": name, "tokenPolicies": list(token_policies),
                      "tokenTtl": role.get("token_ttl"), "tokenMaxTtl": role.get("token_max_ttl"),
                      "tokenNoDefaultPolicy": bool(role.get("token_no_default_policy"))}
            if kind == "kubernetes":
                names_, namespaces = role.get("bound_service_account_names") or [], role.get("bound_service_account_namespaces") or []
                estate.add(KUBERNETES_ROLE, f"{backend}/{name}", {**common, "boundServiceAccountNames": names_,
                                                                   "boundServiceAccountNamespaces": namespaces,
                                                                   "audience": role.get("audience") or None})
                single = lambda values: values[0] if len(values) == 1 and "*" not in values[0] else None  # noqa: E731
                estate.identities.append(FoundIdentity(
                    principal=f"vault-role:{backend}/{name}", kind="vault-kubernetes", name=name, adopt=adopt,
                    namespace=single(namespaces), service_account=single(names_), policies=token_policies,
                    settings={"mount": backend}))
                if estate.kubernetes_host is None:
                    config = _call(address, f"reading auth/{backend}/config", lambda: client.auth.kubernetes.read_config(mount_point=backend))
                    config = config or {}
                    estate.kubernetes_host = config.get("kubernetes_host")
                    estate.kubernetes_ca_cert = config.get("kubernetes_ca_cert") or None
                    estate.kubernetes_reviewer_set = bool(config.get("token_reviewer_jwt_set"))
            else:
                estate.add(APPROLE_ROLE, f"{backend}/{name}", {**common, "secretIdTtl": role.get("secret_id_ttl"),
                                                                "secretIdNumUses": role.get("secret_id_num_uses")})
                estate.identities.append(FoundIdentity(
                    principal=f"vault-role:{backend}/{name}", kind="vault-approle", name=name, adopt=adopt, policies=token_policies,
                    settings={"mount": backend, "secret_id_ttl": role.get("secret_id_ttl"), "token_ttl": role.get("token_ttl"),
                              "token_max_ttl": role.get("token_max_ttl"), "secret_id_num_uses": role.get("secret_id_num_uses")}))
