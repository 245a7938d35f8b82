"""Adopting an existing estate (#17): names kept as they are, `adopt:` ids as Pulumi imports, the plan's
import/create view and its `pulumi import --file` document; bad ids are one line naming the key path."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from components.config import parse_stack_spec
from offline.report import import_file
from offline.run import PROJECT_DIR
from tests.conftest import CANARY, by_type, plan_raw, stack_namespace
from tests.fixtures.refusal import spec_problems

SOURCE = "Pulumi.prod.yaml"
ACCOUNT = "123456789012"
REDIS_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:legacy/redis-AbCdEf"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET = "aws:secretsmanager/secret:Secret"


def problems(raw) -> list[str]:
    return spec_problems(raw, SOURCE)


def adopted_prod(raw: dict) -> dict:
    """prod with redis, its key, api's role and ServiceAccount, and jwt's ExternalSecret kept as they are."""
    secrets = {s["name"]: s for s in raw["secrets"]}
    secrets["redis"].update(path="legacy/redis", adopt=REDIS_ARN, key="legacy")
    raw["keys"] = [{"name": "legacy", "alias": "alias/legacy-secrets", "adopt": KEY_ID}]
    api = next(w for w in raw["workloads"] if w["name"] == "api")
    api.update(role_name="api-legacy", adopt={"role": "api-legacy", "service_account": "autolytiq/api"}, external_secrets=[{
        "name": "jwt-signing-keys", "target": "jwt-secrets", "refresh_interval": "15m",
        "data": [{"secret_key": "JWT_SECRET", "secret": "jwt", "property": "secret"}, {"secret_key": "JWT_ISSUER", "secret": "jwt", "property": "issuer"}],
        "adopt": "autolytiq/jwt-signing-keys"}])
    return raw


@pytest.fixture(scope="module")
def adopted_plan():
    return plan_raw(adopted_prod(stack_namespace("prod")), stack="prod")


def test_defaults_are_unchanged(prod_raw):
    spec = parse_stack_spec(prod_raw, SOURCE)
    api = spec.workloads[0]
    assert (spec.role_name(api), spec.vault_policy_name(api), spec.vault_role_name(api)) == ("autolytiq-prod-api",) * 3
    assert spec.secret_path(spec.secrets[1]) == "autolytiq/prod/redis"


def test_prefix_may_start_with_the_environment(prod_raw):
    prod_raw["prefix"] = "{env}/"
    spec = parse_stack_spec(prod_raw, SOURCE)
    assert spec.secret_path(spec.secrets[0]) == "prod/database" and spec.slug == "prod"


def test_adopted_resources_are_imported_under_their_names(adopted_plan):
    imported = {(r.type, r.name): r.import_id for r in adopted_plan.resources if r.import_id}
    assert imported == {
        (SECRET, "redis-secret"): REDIS_ARN,
        ("aws:kms/key:Key", "legacy-key"): KEY_ID,
        ("aws:kms/alias:Alias", "legacy-alias"): "alias/legacy-secrets",
        ("aws:iam/role:Role", "api-role"): "api-legacy",
        ("kubernetes:core/v1:ServiceAccount", "api-sa"): "autolytiq/api",
        ("kubernetes:external-secrets.io/v1:ExternalSecret", "autolytiq-jwt-signing-keys"): "autolytiq/jwt-signing-keys",
    }
    secret = by_type(adopted_plan, SECRET)["redis-secret"]
    assert secret.inputs["name"] == "legacy/redis" and secret.outputs["arn"] == REDIS_ARN and secret.operation == "import"
    assert by_type(adopted_plan, "aws:iam/role:Role")["api-role"].inputs["name"] == "api-legacy"
    assert by_type(adopted_plan, "aws:kms/alias:Alias")["legacy-alias"].inputs["name"] == "alias/legacy-secrets"
    # Everything else is created, as before.
    assert by_type(adopted_plan, SECRET)["database-secret"].operation == "create"


def test_an_adopted_role_owns_its_policies_exactly_and_a_created_one_needs_nothing_more(adopted_plan):
    """The adopted role's other inline policies are deleted and its managed ones detached on `pulumi up`: the plan
    declares exactly its one inline policy and no attachment. A role the stack creates starts with that policy only."""
    inline = by_type(adopted_plan, "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive")
    attached = by_type(adopted_plan, "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive")
    assert {n: r.inputs for n, r in inline.items()} == {"api-inline-policies": {"roleName": "api-legacy", "policyNames": ["secrets-access"]}}
    assert {n: r.inputs for n, r in attached.items()} == {"api-attached-policies": {"roleName": "api-legacy", "policyArns": []}}
    policies = {r.inputs["role"]: r.inputs["name"] for r in adopted_plan.resources if r.type == "aws:iam/rolePolicy:RolePolicy"}
    assert policies["api-legacy"] == "secrets-access"
    assert all(r.operation == "create" for r in (*inline.values(), *attached.values()))


def test_external_secret_keeps_its_name_target_keys_and_interval(adopted_plan):
    objects = {(r.inputs["kind"], r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs
               for r in adopted_plan.resources if r.type.startswith("kubernetes:") and "metadata" in r.inputs and "namespace" in r.inputs["metadata"]}
    es = objects[("ExternalSecret", "autolytiq", "jwt-signing-keys")]["spec"]
    assert es["target"]["name"] == "jwt-secrets" and es["refreshInterval"] == "15m"
    assert es["data"] == [{"secretKey": "JWT_SECRET", "remoteRef": {"key": "autolytiq/prod/jwt", "property": "secret"}},
                          {"secretKey": "JWT_ISSUER", "remoteRef": {"key": "autolytiq/prod/jwt", "property": "issuer"}}]
    # jwt is synced once, by the declared ExternalSecret; the other reads keep their derived ones.
    assert ("ExternalSecret", "autolytiq", "jwt") not in objects and ("ExternalSecret", "autolytiq", "redis") in objects
    role = objects[("Role", "autolytiq", "api-secrets")]
    assert "jwt-secrets" in role["rules"][0]["resourceNames"] and "jwt" not in role["rules"][0]["resourceNames"]


def test_key_policy_names_the_adopted_secret_path(adopted_plan):
    policy = json.loads(by_type(adopted_plan, "aws:kms/key:Key")["legacy-key"].inputs["policy"])
    patterns = [p for s in policy["Statement"] if "Condition" in s for p in s["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"]]
    assert patterns and all(":secret:legacy/redis-??????" in p for p in patterns)


def test_import_file_lists_each_adopted_resource_with_its_parent_and_provider(adopted_plan):
    document = import_file(adopted_plan)
    entries = {(e["type"], e["name"]): e for e in document["resources"]}
    assert len(entries) == 6
    secret = entries[(SECRET, "redis-secret")]
    assert secret["id"] == REDIS_ARN
    table = document["nameTable"]
    assert table[secret["parent"]].endswith("secrets-platform:aws:ManagedSecret::redis")
    assert table[secret["provider"]].endswith("pulumi:providers:aws::secrets-platform-aws")


@pytest.mark.parametrize("mutate, expected", [
    (lambda r: r["secrets"][1].update(adopt=REDIS_ARN.replace("legacy/redis", "legacy/other")),
     "secrets[1] (redis).adopt: names the secret 'legacy/other', not this secret's path 'legacy/redis'"),
    (lambda r: r["secrets"][1].update(adopt=REDIS_ARN.replace(ACCOUNT, "999999999999")),
     f"secrets[1] (redis).adopt: names region us-east-1 and account 999999999999, not aws.region us-east-1 and aws.account_id {ACCOUNT}"),
    (lambda r: r["secrets"][1].update(adopt="legacy/redis"), "secrets[1] (redis).adopt: must be the secret's ARN"),
    (lambda r: r["keys"][0].pop("alias"), "keys[0] (legacy).alias: required with adopt"),
    (lambda r: r["keys"][0].update(adopt="not-a-key"), "keys[0] (legacy).adopt: must match ^([0-9a-f]{8}-"),
    (lambda r: r["workloads"][0]["adopt"].update(role="autolytiq-prod-api"), "workloads[0] (api).adopt.role: must be the role's name 'api-legacy'"),
    (lambda r: r["workloads"][0]["adopt"].update(vault_policy="api"), "workloads[0] (api).adopt.vault_policy: only for a workload with Vault access"),
    (lambda r: r["workloads"][0]["adopt"].update(service_account="default/api"), "workloads[0] (api).adopt.service_account: must be 'autolytiq/api'"),
    (lambda r: r["workloads"][0]["external_secrets"][0]["data"][0].update(secret="smtp"), "workloads[0] (api).external_secrets[0] (jwt-signing-keys).data[0].secret: 'smtp' is not in this workload's reads"),
    (lambda r: r["workloads"][0]["external_secrets"][0]["data"][0].update(property="nope"), "workloads[0] (api).external_secrets[0] (jwt-signing-keys).data[0].property: 'nope' is not one of secret 'jwt' properties"),
    (lambda r: r["workloads"][0]["external_secrets"][0].update(adopt="default/jwt-signing-keys"), "workloads[0] (api).external_secrets[0] (jwt-signing-keys).adopt: must be 'autolytiq/jwt-signing-keys'"),
    (lambda r: r["workloads"][0]["external_secrets"][0].update(store={"kind": "ClusterSecretStore", "name": "aws-secrets-manager"}),
     "workloads[0] (api).external_secrets[0] (jwt-signing-keys).store.kind: a ClusterSecretStore would let namespaces autolytiq, autolytiq-workers read each other's secrets"),
    (lambda r: r["secrets"][1].update(path="legacy redis", adopt=None), "secrets[1] (redis).path: may contain only letters, digits and /_+=.@-"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_an_adopt_that_disagrees_is_one_line_naming_the_key_path(prod_raw, mutate, expected):
    raw = adopted_prod(prod_raw)
    mutate(raw)
    lines = problems(raw)
    assert len(lines) == 1 and lines[0].startswith(f"{SOURCE}: secrets-platform:{expected}"), lines


def test_vault_names_and_imports(tmp_path):
    raw = stack_namespace(str(PROJECT_DIR / "examples/emr/Pulumi.emr-prod.yaml"))
    raw["vault"]["kv_mounts"][0]["adopt"] = "secret"
    raw["vault"]["kubernetes_auth"]["adopt"] = "kubernetes"
    gateway = next(w for w in raw["workloads"] if w["name"] == "api-gateway")
    gateway.update(vault_policy_name="api-gateway", vault_role_name="api-gateway",
                   adopt={"vault_policy": "api-gateway", "vault_role": "auth/kubernetes/role/api-gateway"})
    jwt = next(s for s in raw["secrets"] if s["name"] == "jwt-signing-keys")
    jwt.update(path="auth/jwt", adopt="secret/data/auth/jwt")
    plan = plan_raw(raw, stack="emr-prod", extra={"database-password:postgres": CANARY}, secret_keys=["database-password:postgres"])
    imported = {(r.type, r.name): r.import_id for r in plan.resources if r.import_id}
    assert imported == {
        ("vault:index/mount:Mount", "kv-secret-mount"): "secret",
        ("vault:kv/secretBackendV2:SecretBackendV2", "kv-secret-config"): "secret/config",
        ("vault:index/authBackend:AuthBackend", "auth-kubernetes-backend"): "kubernetes",
        ("vault:kubernetes/authBackendConfig:AuthBackendConfig", "auth-kubernetes-config"): "auth/kubernetes/config",
        ("vault:index/policy:Policy", "vault-api-gateway-policy"): "api-gateway",
        ("vault:kubernetes/authBackendRole:AuthBackendRole", "vault-api-gateway-login"): "auth/kubernetes/role/api-gateway",
    }
    policy = by_type(plan, "vault:index/policy:Policy")["vault-api-gateway-policy"].inputs
    assert policy["name"] == "api-gateway" and 'path "secret/data/auth/jwt"' in policy["policy"]
    assert by_type(plan, "vault:kubernetes/authBackendRole:AuthBackendRole")["vault-api-gateway-login"].inputs["roleName"] == "api-gateway"
    gateway["adopt"]["vault_role"] = "auth/kubernetes/role/gateway"
    jwt["adopt"] = "secret/data/emr/auth/jwt"
    lines = problems(raw)
    assert [line.split(": ", 2)[1] for line in lines] == ["secrets-platform:secrets[0] (jwt-signing-keys).adopt", "secrets-platform:workloads[0] (api-gateway).adopt.vault_role"], lines


def test_plan_cli_shows_import_or_create_and_writes_the_import_file(tmp_path):
    stack_file = tmp_path / "Pulumi.prod.yaml"
    config = {f"secrets-platform:{k}": v for k, v in adopted_prod(stack_namespace("prod")).items()}
    stack_file.write_text(yaml.safe_dump({"config": config}))
    out, imports = tmp_path / "plan.json", tmp_path / "import.json"
    run = subprocess.run([sys.executable, "-m", "offline", "plan", str(stack_file), "--json", str(out), "--import-file", str(imports)],
                         cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    line = next(line for line in run.stdout.splitlines() if "redis-secret" in line)
    assert "import" in line and REDIS_ARN in line  # the ARN whole: `:secret:` is not drawn as an emoji
    assert "create" in next(line for line in run.stdout.splitlines() if "database-secret" in line)
    operations = {r["name"]: (r["operation"], r["import_id"]) for r in json.loads(out.read_text())["resources"]}
    assert operations["redis-secret"] == ("import", REDIS_ARN) and operations["database-secret"] == ("create", "")
    assert len(json.loads(imports.read_text())["resources"]) == 6
    # A disagreeing id: one line naming the key path, exit 2, no traceback.
    config["secrets-platform:secrets"][1]["adopt"] = REDIS_ARN.replace("legacy/redis", "legacy/other")
    stack_file.write_text(yaml.safe_dump({"config": config}))
    run = subprocess.run([sys.executable, "-m", "offline", "plan", str(stack_file)], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "secrets-platform:secrets[1] (redis).adopt: names the secret 'legacy/other'" in run.stderr


VIBEBOX = "examples/vibebox/Pulumi.vibebox-prod.yaml"


def test_gcp_and_azure_names_are_taken_as_they_are_and_validated():
    """VibeBox keeps its document's prefix vibebox- in GCP and Azure: an explicit `path` is the secret id or Key Vault
    secret name as it is (a `/` is refused, never turned into `-`); without one the name is derived as before."""
    raw = stack_namespace(VIBEBOX)
    spec = parse_stack_spec(raw, VIBEBOX)
    secrets = {s.name: s for s in spec.secrets}
    assert spec.gcp_secret_id(secrets["google-oauth-client"]) == "vibebox-google-oauth-client"
    assert spec.azure_secret_name(secrets["external-api-key"]) == "vibebox-external-api-key"
    derived = secrets["external-api-key"].model_copy(update={"path": None})
    assert spec.azure_secret_name(derived) == "vibebox-prod-external-api-key"
    index = {s["name"]: i for i, s in enumerate(raw["secrets"])}
    raw["secrets"][index["external-api-key"]]["path"] = "vibebox/external-api-key"
    raw["secrets"][index["app-config"]]["path"] = "vibebox.app-config"
    assert [line for line in problems(raw) if ".path" in line] == [
        f"{SOURCE}: secrets-platform:secrets[{index['app-config']}] (app-config).path: may contain only letters, digits, _ and - (1 to 255): a Secret Manager id",
        f"{SOURCE}: secrets-platform:secrets[{index['external-api-key']}] (external-api-key).path: may contain only letters, digits and - (1 to 127): a Key Vault secret name",
    ]
