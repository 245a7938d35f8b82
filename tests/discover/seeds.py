"""The five seed estates, built by replaying each document's own commands (/work/shared/seeds/).

AWS: each `aws secretsmanager|kms|iam ...` command of the document as the boto3 call it makes; where a
document shows Terraform or a JSON policy without its command (002, 003, 001), the call that creates
it, with the names the document gives (the as-written examples under examples/*/as-written transcribe
the same grants). Vault: each `vault ...` command through hvac, on a mount and auth paths of the test's
own so the shared OpenBao server keeps tests apart. Kubernetes: the document's manifests as files.
Every secret value written is the canary: discovery must never print it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from tests.conftest import CANARY

ACCOUNT = "123456789012"
REGION = "us-east-1"
OIDC = "oidc.eks.us-east-1.amazonaws.com/id/B2C3D4E5F60718293A4B5C6D7E8F90A1"


def value(*keys: str) -> str:
    return json.dumps({k: CANARY for k in keys}) if keys else CANARY


def _irsa(namespace: str, service_account: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{OIDC}:sub": f"system:serviceaccount:{namespace}:{service_account}", f"{OIDC}:aud": "sts.amazonaws.com"}}}]}


def _service(service: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def _rotate(sm: Any, secret_id: str, function: str, days: int | None = None) -> None:
    """`aws secretsmanager rotate-secret`: moto records the rotation, then fails to invoke the document's
    Lambda (it is not part of the estate); the recorded rotation is what discovery reads."""
    from botocore.exceptions import ClientError

    try:
        sm.rotate_secret(SecretId=secret_id, RotationLambdaARN=function, **({"RotationRules": {"AutomaticallyAfterDays": days}} if days else {}))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise


# --- AWS ----------------------------------------------------------------------------------------

def aws_000(client: Callable[[str], Any]) -> None:
    kms, sm, iam = client("kms"), client("secretsmanager"), client("iam")
    key = kms.create_key(Description="EMR task secrets")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/emr-task-secrets", TargetKeyId=key)
    sm.create_secret(Name="prod/database/postgres", SecretString=value("username", "password", "host", "port"), KmsKeyId="alias/emr-task-secrets")
    sm.create_secret(Name="prod/auth/jwt", SecretString=value("secret", "refresh_secret"), KmsKeyId="alias/emr-task-secrets")
    sm.create_secret(Name="prod/emr/epic", SecretString=value("client_id", "client_secret", "api_key"), KmsKeyId="alias/emr-task-secrets")
    _rotate(sm, "prod/database/postgres", f"arn:aws:lambda:{REGION}:123456789:function:SecretsManagerPostgresRotation", 90)
    # "3. IAM Policy", on the role the EMR service runs as.
    iam.create_role(RoleName="emr-service", AssumeRolePolicyDocument=json.dumps(_service("ec2.amazonaws.com")))
    iam.put_role_policy(RoleName="emr-service", PolicyName="emr-secrets-access", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
             "Resource": ["arn:aws:secretsmanager:us-east-1:*:secret:prod/*"]},
            {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "arn:aws:kms:us-east-1:*:key/*"}]}))


VIBEBOX_PREFIX_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:vibebox/*"


def aws_001(client: Callable[[str], Any]) -> None:
    sm, iam = client("secretsmanager"), client("iam")
    # `${secret:database-password}`, `${secret:jwt-secret}` under the AWS provider's prefix `vibebox/`.
    sm.create_secret(Name="vibebox/database-password", SecretString=value())
    sm.create_secret(Name="vibebox/jwt-secret", SecretString=value())
    iam.create_role(RoleName="vibebox-backend", AssumeRolePolicyDocument=json.dumps(_service("ec2.amazonaws.com")))
    iam.put_role_policy(RoleName="vibebox-backend", PolicyName="vibebox-secrets", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Resource": VIBEBOX_PREFIX_ARN,
             "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:CreateSecret",
                        "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret", "secretsmanager:RotateSecret",
                        "secretsmanager:DeleteSecret"]},
            {"Effect": "Allow", "Resource": "*", "Action": "secretsmanager:ListSecrets"}]}))


AUTOLYTIQ = ("database", "redis", "jwt", "pii-encryption", "session", "smtp", "resend", "external-apis")


def aws_002(client: Callable[[str], Any]) -> None:
    sm, iam = client("secretsmanager"), client("iam")
    arns = [sm.create_secret(Name=f"autolytiq/prod/{name}", SecretString=value("value"),
                             Tags=[{"Key": "Name", "Value": f"autolytiq-prod-{name}"}, {"Key": "Environment", "Value": "prod"}])["ARN"]
            for name in AUTOLYTIQ]
    _rotate(sm, "autolytiq/prod/database", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:autolytiq-prod-database-rotation", 30)
    # external_secrets_role: IRSA for the controller, every secret's exact ARN (terraform output external_secrets_role_arn).
    iam.create_role(RoleName="autolytiq-prod-external-secrets", AssumeRolePolicyDocument=json.dumps(_irsa("external-secrets", "external-secrets")))
    policy = iam.create_policy(PolicyName="autolytiq-prod-secrets-access", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                                                "Resource": arns}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="autolytiq-prod-external-secrets", PolicyArn=policy)


def aws_003(client: Callable[[str], Any]) -> None:
    sm, iam = client("secretsmanager"), client("iam")
    arn = sm.create_secret(Name="eonpro/prod/database", SecretString=value("url"))["ARN"]
    sm.create_secret(Name="eonpro/prod/auth", SecretString=value("jwt_secret"))
    sm.create_secret(Name="eonpro/prod/encryption", SecretString=value("key"))
    _rotate(sm, "eonpro/prod/database", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:eonpro-rds-rotation")
    iam.create_role(RoleName="eonpro-prod-external-secrets", AssumeRolePolicyDocument=json.dumps(_irsa("external-secrets", "external-secrets")))
    iam.put_role_policy(RoleName="eonpro-prod-external-secrets", PolicyName="external-secrets-access", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [arn]}]}))


def aws_004(client: Callable[[str], Any]) -> None:
    sm, iam = client("secretsmanager"), client("iam")
    sm.create_secret(Name="phagen/db_password", SecretString=value())
    _rotate(sm, "phagen/db_password", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:phagen-rotation")
    iam.create_role(RoleName="phagen-app", AssumeRolePolicyDocument=json.dumps(_service("ecs-tasks.amazonaws.com")))
    iam.put_role_policy(RoleName="phagen-app", PolicyName="phagen-secrets", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:phagen/*",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:ListSecrets",
                       "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret"]}]}))


# --- Vault (mount and auth paths are the test's own; `secret` in the documents becomes `mount`) -------

@dataclass
class VaultSeed:
    secrets: dict[str, tuple[str, ...]]  # path -> properties
    policies: dict[str, str]  # name -> HCL with {mount}
    kubernetes_roles: dict[str, dict] = field(default_factory=dict)
    approle_roles: dict[str, dict] = field(default_factory=dict)


VAULT = {
    "000": VaultSeed(
        secrets={"database/postgres": ("username", "password"), "auth/jwt": ("secret", "refresh_secret"),
                 "emr/epic": ("client_id", "client_secret", "api_key"), "emr/cerner": ("client_id", "client_secret", "api_key")},
        policies={"api-gateway": 'path "{mount}/data/auth/jwt" {{\n  capabilities = ["read"]\n}}\n',
                  "emr-service": 'path "{mount}/data/emr/*" {{\n  capabilities = ["read"]\n}}\n'
                                 'path "{mount}/data/database/postgres" {{\n  capabilities = ["read"]\n}}\n'},
        kubernetes_roles={"api-gateway": {"bound_service_account_names": "api-gateway", "bound_service_account_namespaces": "emr-task",
                                          "policies": "api-gateway", "ttl": "1h"},
                          "emr-service": {"bound_service_account_names": "emr-service", "bound_service_account_namespaces": "default",
                                          "policies": "emr-service", "ttl": "1h"}}),
    "001": VaultSeed(
        # VAULT_PATH=secret, VAULT_PREFIX=vibebox/: the secrets examples/vibebox keeps in Vault (its AWS seed holds the others).
        secrets={"vibebox/encryption-key": ("value",), "vibebox/github-client-secret": ("value",), "vibebox/api-key": ("value",)},
        policies={"vibebox": 'path "{mount}/data/vibebox/*" {{\n  capabilities = ["create", "read", "update", "delete"]\n}}\n'
                             'path "{mount}/metadata/vibebox/*" {{\n  capabilities = ["list", "delete"]\n}}\n'},
        approle_roles={"vibebox": {"token_policies": "vibebox", "token_ttl": "1h", "token_max_ttl": "4h", "secret_id_ttl": "24h",
                                   "token_no_default_policy": True}}),
    "004": VaultSeed(
        secrets={"db_password": ("value",), "api_keys/ncbi": ("value",)},
        policies={"phagen-policy": '# Allow read/write to phagen secrets\npath "{mount}/data/phagen/*" {{\n'
                                   '  capabilities = ["create", "read", "update", "delete", "list"]\n}}\n'
                                   '# Allow secret rotation\npath "{mount}/metadata/phagen/*" {{\n  capabilities = ["list"]\n}}\n'},
        approle_roles={"phagen": {"secret_id_ttl": "24h", "token_ttl": "1h", "token_max_ttl": "4h", "policies": "phagen-policy"}}),
}


def vault_seed(client: Any, seed: str, mount: str, auth: str) -> VaultSeed:
    """`vault secrets enable -path=secret kv-v2`, `vault kv put`, `vault policy write`, `vault auth enable`
    and `vault write auth/.../role/...`; the auth method is mounted at `auth` (kubernetes or approle)."""
    found = VAULT[seed]
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    for path, properties in found.secrets.items():
        client.secrets.kv.v2.create_or_update_secret(path=path, secret={p: CANARY for p in properties}, mount_point=mount)
    for name, text in found.policies.items():
        client.sys.create_or_update_acl_policy(name, text.format(mount=mount))
    if found.kubernetes_roles:
        client.sys.enable_auth_method("kubernetes", path=auth)
        # The document passes the pod's CA file; outside a pod, a CA certificate of the tests' own stands in for it.
        from tests.vault.kubernetes_api import FakeKubernetesApi

        client.write(f"auth/{auth}/config", kubernetes_host="https://kubernetes.default.svc:443", disable_local_ca_jwt=True,
                     kubernetes_ca_cert=FakeKubernetesApi().ca_pem())
        for name, fields in found.kubernetes_roles.items():
            client.write(f"auth/{auth}/role/{name}", **fields)
    if found.approle_roles:
        client.sys.enable_auth_method("approle", path=auth)
        for name, fields in found.approle_roles.items():
            client.write(f"auth/{auth}/role/{name}", **fields)
    return found


def vault_cleanup(client: Any, seed: str, mount: str, auth: str) -> None:
    client.sys.disable_auth_method(auth)
    client.sys.disable_secrets_engine(mount)
    for name in VAULT[seed].policies:
        client.sys.delete_acl_policy(name)


# --- Kubernetes manifests ---------------------------------------------------------------------------

def _store_aws(name: str = "aws-secrets-manager") -> dict:
    return {"apiVersion": "external-secrets.io/v1beta1", "kind": "ClusterSecretStore", "metadata": {"name": name},
            "spec": {"provider": {"aws": {"service": "SecretsManager", "region": REGION,
                                          "auth": {"jwt": {"serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}}}}}


def _external_secret(name: str, namespace: str, store: dict, target: str, data: list[tuple[str, str, str]]) -> dict:
    return {"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret", "metadata": {"name": name, "namespace": namespace},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": store["metadata"]["name"], "kind": store["kind"]},
                     "target": {"name": target, "creationPolicy": "Owner"},
                     "data": [{"secretKey": k, "remoteRef": {"key": key, "property": p}} for k, key, p in data]}}


def manifests(seed: str, directory: Path, mount: str = "secret", auth: str = "kubernetes") -> Path:
    """The document's ExternalSecret Operator manifests (with the test's Vault mount for `secret` and its
    Kubernetes auth path for `kubernetes`)."""
    docs: list[dict] = []
    if seed == "000":
        store = {"apiVersion": "external-secrets.io/v1beta1", "kind": "SecretStore", "metadata": {"name": "vault-backend", "namespace": "emr-task"},
                 "spec": {"provider": {"vault": {"server": "http://vault.vault-system.svc.cluster.local:8200", "path": mount, "version": "v2",
                                                 "auth": {"kubernetes": {"mountPath": auth, "role": "api-gateway",
                                                                         "serviceAccountRef": {"name": "api-gateway"}}}}}}}
        docs = [store, _external_secret("jwt-signing-keys", "emr-task", store, "jwt-secrets",
                                        [("JWT_SECRET", f"{mount}/data/auth/jwt", "secret"),
                                         ("JWT_REFRESH_SECRET", f"{mount}/data/auth/jwt", "refresh_secret")])]
    elif seed == "001":
        # k8s/base/external-secrets/secretstore-vault.yaml: cluster-wide, signing in with a static VAULT_TOKEN.
        docs = [{"apiVersion": "external-secrets.io/v1beta1", "kind": "ClusterSecretStore", "metadata": {"name": "vault-backend"},
                 "spec": {"provider": {"vault": {"server": "https://vault.example.com", "path": mount, "version": "v2",
                                                 "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token", "namespace": "external-secrets"}}}}}}]
    elif seed == "002":
        store = _store_aws()
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "external-secrets", "namespace": "external-secrets",
                                                                         "annotations": {"eks.amazonaws.com/role-arn": f"arn:aws:iam::{ACCOUNT}:role/autolytiq-prod-external-secrets"}}}
        docs = [store, sa,
                _external_secret("jwt-secrets", "autolytiq", store, "jwt-secrets", [("JWT_SECRET", "autolytiq/prod/jwt", "secret")]),
                _external_secret("database-credentials", "autolytiq", store, "database-credentials", [("DATABASE_URL", "autolytiq/prod/database", "url")])]
    elif seed == "003":
        store = _store_aws()
        docs = [store, _external_secret("eonpro-secrets", "eonpro", store, "eonpro-app-secrets",
                                        [("DATABASE_URL", "eonpro/prod/database", "url"), ("JWT_SECRET", "eonpro/prod/auth", "jwt_secret"),
                                         ("ENCRYPTION_KEY", "eonpro/prod/encryption", "key")])]
    directory.mkdir(parents=True, exist_ok=True)
    # A Secret beside them, as a cluster dump holds: discovery must skip it unread.
    docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "leaked", "namespace": "default"}, "stringData": {"value": CANARY}})
    (directory / f"seed-{seed}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return directory
