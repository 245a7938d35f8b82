"""The access matrix: computed from planned resources, it equals what each stack's spec declares (no more,
no less); hand-added grants show up in the diff, highlighted when they reach critical or high secrets;
only effective access counts (KMS decides for AWS, Vault's path precedence for Vault); what is unknown
at preview is reported as unknown."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import defaultdict

import pytest

from components.config import StackSpec, parse_stack_spec
from offline.access import AccessMatrix, access_matrix, diff, main
from offline.access.cli import preview_resources
from offline.access.model import ADMIN, BLOCKED, EFFECTIVE, READ, UNKNOWN, UNKNOWN_SECRET, WRITE
from offline.access.render import diff_markdown
from offline.access.vault import Acl
from offline.report import plan_document
from offline.run import PROJECT_DIR, Plan, plan_stack
from documents.props import is_unknown
from tests.conftest import shared_store_raw, stack_namespace

EMR = "examples/emr/Pulumi.emr-prod.yaml"
PHAGEN = "examples/phagen/Pulumi.phagen-prod.yaml"
SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PREVIEW = PROJECT_DIR / "tests/fixtures/preview/prod-preview.json"


@pytest.fixture(scope="module")
def emr_plan() -> Plan:
    return plan_stack(EMR)


@pytest.fixture(scope="module")
def phagen_plan() -> Plan:
    return plan_stack(PHAGEN)


@pytest.fixture
def plans(dev_plan, prod_plan, emr_plan, phagen_plan) -> dict[str, Plan]:
    return {"dev": dev_plan, "prod": prod_plan, EMR: emr_plan, PHAGEN: phagen_plan}


def resources(plan: Plan) -> list[dict]:
    """The plan's resources as plain dicts, free to change."""
    return [{"type": r.type, "urn": r.urn, "name": r.name, "props": copy.deepcopy(r.inputs), "outputs": dict(r.outputs), "provider": r.provider}
            for r in plan.resources]


def resource(items: list[dict], name: str) -> dict:
    return next(r for r in items if r["name"] == name)


def hand_written(type_: str, name: str, props: dict, outputs: dict | None = None) -> dict:
    return {"type": type_, "urn": f"urn:pulumi:test::secrets-platform::{type_}::{name}", "name": name, "props": props, "outputs": outputs or {}}


# ----- what the spec declares, derived independently of the components and of the matrix -----


def declared(spec: StackSpec) -> dict[str, set[tuple[str, str]]]:
    """Per principal id, the (secret id, capability) pairs the spec intends, at every level: the workload's
    service account, its IAM role and Vault login role, rotation functions, stores and namespaces."""
    slug, env = spec.slug, spec.environment.value
    secrets = {s.name: s for s in spec.secrets}
    databases = {d.name: d for d in spec.vault.databases} if spec.vault else {}

    def sid(name: str) -> str:
        s = secrets[name]
        if s.backend == "azure":
            return f"azure:{spec.azure.key_vault.lower()}/{spec.azure_secret_name(s)}"
        return f"aws:{spec.secret_path(s)}" if s.backend == "aws" else f"vault:{spec.kv_mount(s)}/{spec.secret_path(s)}"

    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for w in spec.all_workloads:
        sa = f"k8s:{w.namespace}/{w.service_account}" if w.namespace and w.service_account else None
        aws = {(sid(n), READ) for n in spec.reads(w, "aws")} | {(sid(n), WRITE) for n in spec.writes(w, "aws")}
        if aws:
            out[f"iam-role:{spec.role_name(w)}"] |= aws
            out[sa] |= aws
        if spec.vault_access(w):
            vault = {(sid(n), READ) for n in spec.reads(w, "vault")} | {(sid(n), WRITE) for n in w.writes if secrets[n].backend == "vault"}
            vault |= {(f"vault:{databases[d].mount}/creds/{r}", READ) for d, r in (ref.split("/") for ref in w.database_roles)}
            mount = spec.vault.kubernetes_auth.mount if w.vault_login == "kubernetes" else spec.vault.approle.mount
            out[f"vault-role:{mount}/{spec.vault_role_name(w)}"] |= vault
            if w.vault_login == "kubernetes":
                out[sa] |= vault
        azure = {(sid(n), READ) for n in spec.reads(w, "azure")}
        if azure:
            out[f"azure-identity:{spec.azure_identity_name(w)}"] |= azure
            out[sa] |= azure
        if sa:
            out[sa] |= {(sid(n), READ) for n in spec.synced(w)}  # Kubernetes Secrets its RBAC Role may get
    for secret, rotation in spec.automated_rotations():
        role = f"iam-role:{slug}-rotate-{secret.name}"
        out[role] |= {(sid(secret.name), READ), (sid(secret.name), WRITE)}
        if rotation.master_secret:
            out[role].add((sid(rotation.master_secret), READ))
    for o in spec.operators:  # people and CI: the secret's resource policy and key (AWS), group policy or role (others)
        principal = {"aws": f"aws:{o.aws_role_arn}", "vault": f"vault-group:{o.vault_group_id}",
                     "azure": f"azure-principal:{o.azure_group_object_id}"}
        for capability, names in ((READ, o.reads), (WRITE, o.writes)):
            for n in names:
                backend = secrets[n].backend
                # Key Vault Secrets Officer, the narrowest built-in role that sets a secret, also reads and deletes it.
                given = {READ, WRITE, ADMIN} if backend == "azure" and capability == WRITE else {capability}
                out[principal[backend]] |= {(sid(n), c) for c in given}
    if spec.eso is not None:
        controller = next(w for w in spec.workloads if w.name == spec.eso.workload)
        for key, namespaces in spec.store_namespaces.items():
            name = {"aws": f"aws-secrets-manager-{env}", "azure": f"azure-key-vault-{env}"}.get(key, f"vault-{key.removeprefix('vault-')}-{env}")
            if spec.declared_store(key) is not None:  # kept as it is (#17)
                name = spec.declared_store(key).name
            if spec.is_cluster_store(key):  # one store for namespaces syncing the same secrets, as the controller
                stores = [(f"eso:ClusterSecretStore/{name}", namespaces, spec.effective_reads(controller))]
            else:  # a store per namespace, reading exactly what that namespace syncs through it
                stores = [(f"eso:SecretStore/{ns}/{name}", (ns,), tuple(spec.synced_by_namespace[ns])) for ns in namespaces]
            for store, users, reads in stores:
                reach = {(sid(n), READ) for n in reads if spec.store_key(secrets[n]) == key}
                out[store] |= reach
                for ns in users:
                    out[f"namespace:{ns}"] |= reach  # whoever may create ExternalSecrets there
        if spec.eso.install:  # the chart's ClusterRole: every synced Secret, a token for every service account (#15)
            own = f"k8s:{spec.eso.namespace}/{controller.service_account}"
            for principal, reach in list(out.items()):
                if principal.startswith("k8s:") and principal != own:
                    out[own] |= reach
    return {k: v for k, v in out.items() if v}


def measured(matrix: AccessMatrix) -> dict[str, set[tuple[str, str]]]:
    return {p: matrix.access(p) for p in matrix.rows()}


SHARED = "prod with a ClusterSecretStore"
OPERATOR_ROLE = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_SecretsOperator_0123456789abcdef"


@pytest.mark.parametrize("stack", ["dev", "prod", EMR, PHAGEN, SHARED])
def test_matrix_equals_the_declared_access_of_every_principal(plans, prod_shared_plan, stack):
    plan = prod_shared_plan if stack == SHARED else plans[stack]
    matrix = access_matrix(plan.resources, plan.stack)
    spec = parse_stack_spec(shared_store_raw(stack_namespace("prod")) if stack == SHARED else stack_namespace(stack), stack)
    assert measured(matrix) == declared(spec)
    assert {e.status for e in matrix.entries} == {EFFECTIVE}
    assert matrix.notes == []
    # Every workload of the spec has its row, and every secret a workload reads is in the matrix.
    for workload in spec.workloads:
        if spec.effective_reads(workload) or workload.writes or workload.database_roles:
            names = {f"/{workload.service_account}", f"/{spec.vault_role_name(workload)}", f":{spec.role_name(workload)}"}  # kept names (#17)
            assert any(workload.name in p or any(p.endswith(n) for n in names) for p in matrix.rows())


def test_no_namespace_or_store_reaches_secrets_its_workloads_do_not_declare(prod_plan, prod_raw):
    """The fix for the shared ClusterSecretStore: autolytiq-workers could create an ExternalSecret for api's
    pii-encryption. Now a namespace (whoever may create ExternalSecrets in it) and each store reach only what
    the namespace's own workloads declare."""
    spec = parse_stack_spec(prod_raw, "Pulumi.prod.yaml")
    matrix = access_matrix(prod_plan.resources, prod_plan.stack)
    declared_by = defaultdict(set)
    for w in spec.workloads:
        declared_by[w.namespace] |= {f"aws:{spec.secret_path(s)}" for s in spec.secrets if s.name in w.reads}
    namespaces = [p for p in matrix.rows() if p.startswith("namespace:")]
    stores = [p for p in matrix.rows() if p.startswith("eso:")]
    assert sorted(namespaces) == ["namespace:autolytiq", "namespace:autolytiq-workers"]
    assert sorted(stores) == ["eso:SecretStore/autolytiq-workers/aws-secrets-manager-prod", "eso:SecretStore/autolytiq/aws-secrets-manager-prod"]
    for principal in namespaces + stores:
        ns = principal.split(":", 1)[1] if principal.startswith("namespace:") else principal.split("/")[1]
        reached = {secret for secret, _ in matrix.access(principal)}
        assert reached and reached <= declared_by[ns], f"{principal} reaches {sorted(reached - declared_by[ns])}"
    assert ("aws:autolytiq/prod/pii-encryption", READ) not in matrix.access("namespace:autolytiq-workers")
    assert ("aws:autolytiq/prod/smtp", READ) not in matrix.access("namespace:autolytiq")


def test_identical_secrets_still_share_one_cluster_store(prod_raw, prod_shared_plan):
    spec = parse_stack_spec(shared_store_raw(prod_raw), "Pulumi.prod.yaml")
    assert spec.store_namespaces == {"aws": ("autolytiq", "autolytiq-workers")} and spec.is_cluster_store("aws")
    assert spec.store_identities == ()
    assert not parse_stack_spec(prod_raw, "Pulumi.prod.yaml").is_cluster_store("aws")
    matrix = access_matrix(prod_shared_plan.resources, prod_shared_plan.stack)
    assert [p for p in matrix.rows() if p.startswith("eso:")] == ["eso:ClusterSecretStore/aws-secrets-manager-prod"]
    assert matrix.access("namespace:autolytiq") == matrix.access("namespace:autolytiq-workers") == matrix.access("eso:ClusterSecretStore/aws-secrets-manager-prod")


def test_chains_name_each_hop(dev_plan):
    matrix = access_matrix(dev_plan.resources, dev_plan.stack)
    worker = next(e for e in matrix.entries if e.principal == "k8s:autolytiq-workers/worker" and e.secret == "aws:autolytiq/dev/smtp")
    chain = " → ".join(worker.chains[0])
    for hop in ("RoleBinding", "Secret autolytiq-workers/smtp", "ExternalSecret autolytiq-workers/smtp",
                "service account autolytiq-workers/external-secrets-store", "IAM role autolytiq-dev-store-autolytiq-workers",
                "secretsmanager:GetSecretValue", "key alias/autolytiq-dev/shared", "kms:Decrypt", "secret autolytiq/dev/smtp"):
        assert hop in chain
    api = next(e for e in matrix.entries if e.principal == "k8s:autolytiq/api" and e.secret == "aws:autolytiq/dev/jwt")
    assert "RoleBinding" not in " → ".join(api.chains[0])  # the direct IRSA way comes first
    assert len(api.chains) == 2  # and the synced Kubernetes Secret is a second way


def test_the_matrix_is_the_same_from_a_plan_document(dev_plan, tmp_path):
    document = json.loads(json.dumps(plan_document(dev_plan), default=str))
    from_document = access_matrix(document["resources"], document["stack"])
    assert measured(from_document) == measured(access_matrix(dev_plan.resources))


# ----- hand-added grants -----------------------------------------------------------------------

ACCOUNT = "123456789012"
BROAD = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:autolytiq/prod/*"},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*"},
    ],
}


def with_broad_grant(plan: Plan) -> list[dict]:
    items = resources(plan)
    items.append(hand_written("aws:iam/rolePolicy:RolePolicy", "legacy-broad", {"role": "autolytiq-prod-api", "policy": json.dumps(BROAD)}))
    return items


def test_over_broad_iam_grant_is_stopped_by_the_key_policy(prod_plan):
    """The platform's key policies name each role for its own secrets only, so the IAM grant alone reads
    nothing more: it shows as blocked (and as a pattern for secrets created later), not as a read."""
    base = access_matrix(prod_plan.resources, "base")
    head = access_matrix(with_broad_grant(prod_plan), "head")
    api = "iam-role:autolytiq-prod-api"
    assert head.access(api) - base.access(api) == set()
    blocked = {s for s, c in head.access(api, [BLOCKED]) if c == READ}
    assert blocked == {"aws:autolytiq/prod/smtp", "aws:autolytiq/prod/resend", "aws:autolytiq/prod/external-apis"}
    smtp = next(e for e in head.entries if e.principal == api and e.secret == "aws:autolytiq/prod/smtp")
    assert "key alias/autolytiq-prod/shared does not let autolytiq-prod-api kms:Decrypt" in smtp.reason
    change = diff(base, head)
    assert {(c.entry.secret, c.entry.status) for c in change.gained if c.entry.principal == api} == {
        ("aws:autolytiq/prod/smtp", BLOCKED), ("aws:autolytiq/prod/resend", BLOCKED), ("aws:autolytiq/prod/external-apis", BLOCKED),
        ("aws:autolytiq/prod/*", UNKNOWN),
    }
    # Blocked grants are listed, not highlighted; the pattern (future secrets, class unknown) is.
    assert {c.entry.secret for c in change.highlighted if c.entry.principal == api} == {"aws:autolytiq/prod/*"}
    assert change.lost == []


def test_over_broad_grant_with_a_delegating_key_policy_is_gained_and_highlighted(prod_plan):
    """The same grant once the shared key's policy lets IAM decide (AWS's default key policy): the api
    workload now reads every secret on that key."""
    items = with_broad_grant(prod_plan)
    shared = resource(items, "shared-key")
    shared["props"]["policy"] = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "EnableIam", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}]})
    base, head = access_matrix(prod_plan.resources, "base"), access_matrix(items, "head")
    change = diff(base, head)
    gained = {(c.entry.principal, c.entry.secret): c for c in change.gained if c.entry.capability == READ and c.entry.status == EFFECTIVE}
    for principal in ("iam-role:autolytiq-prod-api", "k8s:autolytiq/api"):
        assert {s for p, s in gained if p == principal} == {"aws:autolytiq/prod/smtp", "aws:autolytiq/prod/resend", "aws:autolytiq/prod/external-apis"}
        assert gained[(principal, "aws:autolytiq/prod/resend")].highlighted  # high
        assert gained[(principal, "aws:autolytiq/prod/external-apis")].highlighted  # high
        assert not gained[(principal, "aws:autolytiq/prod/smtp")].highlighted  # medium
    chain = " → ".join(gained[("iam-role:autolytiq-prod-api", "aws:autolytiq/prod/resend")].entry.chains[0])
    assert "RolePolicy legacy-broad statement 0" in chain and "lets IAM decide" in chain and "RolePolicy legacy-broad statement 1" in chain
    # The other roles' identity policies bind kms:Decrypt to their own secrets' encryption context: nothing new.
    assert {c.entry.principal for c in change.gained if c.entry.status == EFFECTIVE} == {"iam-role:autolytiq-prod-api", "k8s:autolytiq/api"}
    markdown = diff_markdown(change)
    assert "⚠" in markdown and "autolytiq/prod/resend" in markdown


def test_an_iam_grant_without_the_key_is_not_a_read(prod_plan):
    items = resources(prod_plan)
    smtp_arn = resource(items, "smtp-secret")["outputs"]["arn"]
    items.append(hand_written("aws:iam/rolePolicy:RolePolicy", "no-key", {"role": "autolytiq-prod-rotate-jwt", "policy": json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": smtp_arn}]})}))
    matrix = access_matrix(items)
    role = "iam-role:autolytiq-prod-rotate-jwt"
    assert ("aws:autolytiq/prod/smtp", READ) not in matrix.access(role)
    assert ("aws:autolytiq/prod/smtp", READ) in matrix.access(role, [BLOCKED])
    assert role not in {p.id for p in matrix.holders("aws:autolytiq/prod/smtp")}


def test_a_kms_grant_opens_the_key_beside_its_policy(prod_plan):
    """A hand-written KMS grant lets its grantee decrypt whatever the key policy says: with the IAM grant on
    smtp, the rotation role now reads it; a grant constrained to another secret's context does not."""
    items = resources(prod_plan)
    smtp_arn = resource(items, "smtp-secret")["outputs"]["arn"]
    role_arn = resource(items, "rotate-jwt-role")["outputs"]["arn"]
    key_id = resource(items, "shared-key")["outputs"]["keyId"]
    items.append(hand_written("aws:iam/rolePolicy:RolePolicy", "smtp-read", {"role": "autolytiq-prod-rotate-jwt", "policy": json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": smtp_arn}]})}))
    role, smtp = "iam-role:autolytiq-prod-rotate-jwt", ("aws:autolytiq/prod/smtp", READ)
    other = hand_written("aws:kms/grant:Grant", "other-grant", {"keyId": key_id, "granteePrincipal": role_arn, "operations": ["Decrypt"],
                                                               "constraints": [{"encryptionContextEquals": {"SecretARN": smtp_arn + "x"}}]})
    assert smtp in access_matrix([*items, other]).access(role, [BLOCKED])
    grant = hand_written("aws:kms/grant:Grant", "smtp-grant", {"keyId": key_id, "granteePrincipal": role_arn, "operations": ["Decrypt"],
                                                              "constraints": [{"encryptionContextEquals": {"SecretARN": smtp_arn}}]})
    matrix = access_matrix([*items, grant])
    assert smtp in matrix.access(role)
    entry = next(e for e in matrix.entries if e.principal == role and e.secret == smtp[0] and e.capability == READ)
    assert "key alias/autolytiq-prod/shared: KMS grant smtp-grant (kms:Decrypt)" in entry.chains[0]


def test_a_secret_on_the_aws_managed_key_needs_only_iam(prod_plan):
    """Without a customer key, `aws/secretsmanager` lets any principal of the account decrypt through
    Secrets Manager: the identity policy alone decides."""
    items = resources(prod_plan)
    arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:autolytiq/prod/legacy-AbCdEf"
    items.append(hand_written("aws:secretsmanager/secret:Secret", "legacy", {"name": "autolytiq/prod/legacy", "tags": {"classification": "high"}}, {"arn": arn}))
    base = access_matrix(items, "base")
    items.append(hand_written("aws:iam/rolePolicy:RolePolicy", "legacy-read", {"role": "autolytiq-prod-rotate-session", "policy": json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arn}]})}))
    change = diff(base, access_matrix(items, "head"))
    assert [(c.entry.principal, c.entry.secret, c.entry.capability, c.entry.status, c.highlighted) for c in change.gained] == [
        ("iam-role:autolytiq-prod-rotate-session", "aws:autolytiq/prod/legacy", READ, EFFECTIVE, True)]


def test_an_explicit_deny_wins(prod_plan):
    items = resources(prod_plan)
    jwt_arn = resource(items, "jwt-secret")["outputs"]["arn"]
    items.append(hand_written("aws:iam/rolePolicy:RolePolicy", "deny-jwt", {"role": "autolytiq-prod-api", "policy": json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "secretsmanager:*", "Resource": jwt_arn}]})}))
    matrix = access_matrix(items)
    assert not [e for e in matrix.entries if e.principal == "iam-role:autolytiq-prod-api" and e.secret == "aws:autolytiq/prod/jwt"]
    # The api service account still gets jwt, through its synced Kubernetes Secret (the ESO role is not denied).
    assert ("aws:autolytiq/prod/jwt", READ) in matrix.access("k8s:autolytiq/api")


def test_a_cluster_secret_store_without_conditions_extends_every_namespace(dev_plan):
    items = resources(dev_plan)
    items.append(hand_written("kubernetes:external-secrets.io/v1:ClusterSecretStore", "store-open", {
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": {"name": "aws-open"},
        "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "us-east-1",
                                      "auth": {"jwt": {"serviceAccountRef": {"name": "external-secrets-store", "namespace": "autolytiq-workers"}}}}}}}))
    items.append(hand_written("kubernetes:core/v1:Namespace", "namespace-batch", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "batch"}}))
    base, head = access_matrix(dev_plan.resources), access_matrix(items)
    everything = {s for s, c in base.access("k8s:autolytiq-workers/external-secrets-store") if c == READ}
    assert "aws:autolytiq/dev/smtp" in everything
    for namespace in ("namespace:batch", "namespace:*"):
        assert {s for s, _ in head.access(namespace)} == everything
    assert "namespace:batch" not in base.rows()
    # Namespaced SecretStores reach only their own namespace.
    items.append(hand_written("kubernetes:external-secrets.io/v1:SecretStore", "store-batch", {
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "only-batch", "namespace": "batch"},
        "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "us-east-1", "auth": {"jwt": {"serviceAccountRef": {"name": "api"}}}}}}}))
    items = [r for r in items if r["name"] != "store-open"]
    head = access_matrix(items)
    assert head.access("namespace:batch") == set()  # batch/api trusts no IAM role
    assert "namespace:*" not in head.rows()


def test_older_eso_versions_count(dev_plan):
    """Hand-written v1beta1/v1alpha1 resources: a v1alpha1 ClusterSecretStore has no conditions (the API
    server drops them), and a v1alpha1 ExternalSecret's dataFrom lists remote keys directly."""
    items = resources(dev_plan)
    legacy_es = next(r for r in items if r["name"] == "autolytiq-workers-smtp")
    legacy_es["type"] = "kubernetes:external-secrets.io/v1alpha1:ExternalSecret"
    legacy_es["props"]["spec"]["dataFrom"] = [{"key": "autolytiq/dev/smtp"}]
    del legacy_es["props"]["spec"]["data"]
    items.append(hand_written("kubernetes:core/v1:Namespace", "namespace-batch", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "batch"}}))
    store = {"apiVersion": "external-secrets.io/v1beta1", "kind": "ClusterSecretStore", "metadata": {"name": "aws-legacy"},
             "spec": {"conditions": [{"namespaces": ["batch"]}], "provider": {"aws": {"service": "SecretsManager", "region": "us-east-1",
                      "auth": {"jwt": {"serviceAccountRef": {"name": "external-secrets-store", "namespace": "autolytiq-workers"}}}}}}}
    beta = access_matrix(items + [hand_written("kubernetes:external-secrets.io/v1beta1:ClusterSecretStore", "store-legacy", store)])
    assert ("aws:autolytiq/dev/smtp", READ) in beta.access("k8s:autolytiq-workers/worker")
    assert ("aws:autolytiq/dev/smtp", READ) in beta.access("namespace:batch") and "namespace:*" not in beta.rows()
    alpha = access_matrix(items + [hand_written("kubernetes:external-secrets.io/v1alpha1:ClusterSecretStore", "store-legacy", store)])
    assert ("aws:autolytiq/dev/smtp", READ) in alpha.access("namespace:*")


def test_a_vault_glob_counts_and_precedence_decides(emr_plan):
    items = resources(emr_plan)
    base = access_matrix(items, "base")
    items.append(hand_written("vault:index/policy:Policy", "broad-policy", {"name": "emr-broad", "policy": (
        'path "secret/data/*" {\n  capabilities = ["read"]\n}\n'
        'path "secret/data/auth/+" {\n  capabilities = ["deny"]\n}\n')}))
    items.append(hand_written("vault:kubernetes/authBackendRole:AuthBackendRole", "broad-login", {
        "backend": "kubernetes", "roleName": "emr-broad", "boundServiceAccountNames": ["migrations"], "boundServiceAccountNamespaces": ["emr-task"],
        "audience": "vault", "tokenPolicies": ["emr-broad"], "tokenNoDefaultPolicy": True}))
    change = diff(base, access_matrix(items, "head"))
    gained = {(c.entry.principal, c.entry.secret): c for c in change.gained}
    for principal in ("vault-role:kubernetes/emr-broad", "k8s:emr-task/migrations"):
        reads = {s for p, s in gained if p == principal}
        # epic and cerner through the glob; jwt is denied by the more specific `+` rule; the glob itself too.
        assert reads == {"vault:secret/emr/epic", "vault:secret/emr/cerner", "vault:secret/*"}
        assert all(gained[(principal, s)].highlighted for s in reads)  # Vault classification unknown: treated as high
    assert "path \"secret/data/*\"" in gained[("k8s:emr-task/migrations", "vault:secret/emr/epic")].entry.chains[0][-2]


def test_a_store_fetches_only_its_own_mount(emr_plan):
    """The Vault store on mount `secret` signs in as a role that may also read database credentials: the role
    reads them, the store (and the namespace using it) cannot fetch them."""
    items = resources(emr_plan)
    policy = resource(items, "vault-store-emr-task-policy")
    policy["props"]["policy"] += 'path "database/creds/postgres-role" {\n  capabilities = ["read"]\n}\n'
    matrix = access_matrix(items)
    creds = ("vault:database/creds/postgres-role", READ)
    assert creds in matrix.access("vault-role:kubernetes/emr-prod-store-emr-task")
    assert creds in matrix.access("k8s:emr-task/external-secrets-store")  # its own login, outside ESO
    assert creds not in matrix.access("eso:SecretStore/emr-task/vault-backend")
    assert creds not in matrix.access("namespace:emr-task")


def test_a_vault_policy_on_no_login_role_is_noted(emr_plan):
    items = resources(emr_plan)
    items.append(hand_written("vault:index/policy:Policy", "orphan", {"name": "orphan", "policy": 'path "secret/data/*" { capabilities = ["read"] }'}))
    matrix = access_matrix(items)
    assert measured(matrix) == measured(access_matrix(emr_plan.resources))
    assert any("orphan" in n and "no login role" in n for n in matrix.notes)


# ----- unknown at preview ---------------------------------------------------------------------


def test_unknown_values_are_reported_not_dropped(dev_plan):
    items = resources(dev_plan)
    resource(items, "api-secrets")["props"]["policy"] = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": SENTINEL}]})
    resource(items, "session-secret")["props"]["kmsKeyId"] = SENTINEL
    matrix = access_matrix(items)
    for principal in ("iam-role:autolytiq-dev-api", "k8s:autolytiq/api"):
        unknown = next(e for e in matrix.entries if e.principal == principal and e.secret == UNKNOWN_SECRET)
        assert unknown.status == UNKNOWN and "Resource is unknown at preview" in unknown.reason
    session = next(e for e in matrix.entries if e.principal == "iam-role:autolytiq-dev-store-autolytiq" and e.secret == "aws:autolytiq/dev/session")
    assert (session.status, session.reason) == (UNKNOWN, "the secret's KMS key is unknown at preview")


def test_a_preview_document_with_unknown_arns(tmp_path):
    """A real `pulumi preview --json`: new resources' ARNs are unknown; the grants on them are reported as unknown."""
    document = json.loads(PREVIEW.read_text())
    matrix = access_matrix(preview_resources(document, str(PREVIEW)))
    role = "iam-role:payments-api"
    statuses = {(e.secret, e.capability): e.status for e in matrix.entries if e.principal == role}
    assert statuses[(UNKNOWN_SECRET, READ)] == UNKNOWN  # read-db-password: Resource unknown
    assert statuses[("aws:prod/payments/db-password", READ)] == UNKNOWN  # ARN and key unknown
    assert statuses[("aws:prod/*", ADMIN)] == EFFECTIVE  # secretsmanager:* on prod/*: delete needs no key
    assert {e.principal for e in matrix.entries} >= {role, "k8s:payments/api"}
    assert not any(is_unknown(e.secret) or is_unknown(e.principal) for e in matrix.entries)


# ----- Vault's ACL precedence, against a real server ------------------------------------------------

if "tests.fixtures.openbao" not in getattr(sys.modules.get("tests.conftest"), "pytest_plugins", ()):
    from tests.fixtures.openbao import openbao, openbao_prefix  # noqa: F401

PRECEDENCE = {
    "p1": 'path "kv/data/app/*" { capabilities = ["read"] }\npath "kv/data/app/secret" { capabilities = ["deny"] }\n'
          'path "kv/data/+/db" { capabilities = ["create", "update"] }\npath "kv/data/app/team/*" { capabilities = ["delete"] }\n',
    "p2": 'path "kv/data/app/*" { capabilities = ["update"] }\npath "kv/+/app/x*" { capabilities = ["list"] }\n'
          'path "kv/metadata/*" { capabilities = ["delete"] }\npath "kv/data/+/+/deep" { capabilities = ["patch"] }\n',
    "p3": 'path "kv/*" { capabilities = ["list"] }\npath "kv/data/+/team/*" { capabilities = ["read", "update"] }\n'
          'path "kv/data/ap*" { capabilities = ["create"] }\npath "+/data/app/one" { capabilities = ["sudo"] }\n'
          'path "kv/data/a+/x" { capabilities = ["read"] }\n',
}
PATHS = ["kv/data/app/one", "kv/data/app/secret", "kv/data/app/db", "kv/data/other/db", "kv/data/app/team/a", "kv/data/app/xray",
         "kv/metadata/app/one", "kv/data/app/team/deep", "kv/data/a/b/deep", "kv/data/app/x", "kv/destroy/app/one", "kv/data/app",
         "kv/data/apple", "kv/data/zzz/team/q", "kv/config", "other/data/app/one", "kv/data/a+/x", "kv/data/app/team", "kv/data/x/team/"]


def test_vault_precedence_agrees_with_openbao(openbao, openbao_prefix):
    """Which rule wins for a path (exact, longest prefix, `+` segments, deny) is Vault's call: ask it."""
    client = openbao.client()
    names = [f"{openbao_prefix}-{name}" for name in PRECEDENCE]
    for name, text in zip(names, PRECEDENCE.values()):
        client.sys.create_or_update_policy(name, text)
    token = client.auth.token.create(policies=names, no_default_policy=True)["auth"]["client_token"]
    answer = client.write("sys/capabilities", token=token, paths=PATHS)
    measured_caps = {p: sorted(answer["data"][p] if "data" in answer else answer[p]) for p in PATHS}
    from policy.rules.vault import parse_policy

    acl = Acl([(b.path, b.capabilities, name) for name, text in PRECEDENCE.items() for b in parse_policy(text)])
    computed = {p: sorted(rule.caps) if (rule := acl.resolve(p)) is not None and rule.caps else ["deny"] for p in PATHS}
    assert computed == measured_caps


# ----- the command ----------------------------------------------------------------------------


def test_diff_between_plan_documents_as_json_and_markdown(prod_plan, tmp_path, capsys):
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    base.write_text(json.dumps(plan_document(prod_plan), default=str))
    document = json.loads(base.read_text())
    document["resources"] += [hand_written("aws:iam/rolePolicy:RolePolicy", "legacy-broad", {"role": "autolytiq-prod-api", "policy": json.dumps(BROAD)})]
    key = next(r for r in document["resources"] if r["name"] == "shared-key")
    key["inputs"]["policy"] = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}]})
    head.write_text(json.dumps(document))
    assert main([str(head), "--base", str(base), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "secrets-platform/access-diff"
    # The operator's role is not ours: its access came from the key policy naming it, which the edit removed.
    assert {(g["principal"]["id"], g["secret"]["id"], g["capability"]) for g in out["lost"]} == {
        (f"aws:{OPERATOR_ROLE}", f"aws:autolytiq/prod/{n}", WRITE) for n in ("redis", "smtp", "resend", "external-apis")}
    resend = [g for g in out["gained"] if g["secret"]["id"] == "aws:autolytiq/prod/resend" and g["status"] == EFFECTIVE]
    assert resend and all(g["highlighted"] for g in resend)
    assert main([str(head), "--base", str(base), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "#### Gained" in markdown and "⚠" in markdown and "**high**" in markdown
    assert main([str(base), "--base", str(base), "--format", "markdown"]) == 0
    assert "No change" in capsys.readouterr().out


def test_matrix_json_round_trips_and_serves_as_base(dev_plan, tmp_path, capsys):
    matrix = access_matrix(dev_plan.resources, "dev")
    saved = tmp_path / "matrix.json"
    saved.write_text(json.dumps(matrix.to_json()))
    assert AccessMatrix.from_json(json.loads(saved.read_text())).entries == matrix.entries
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(plan_document(dev_plan), default=str))
    assert main([str(plan), "--base", str(saved), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["gained"] == [] and out["lost"] == []


def test_bad_inputs_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing.json")]) == 2
    (tmp_path / "other.json").write_text('{"hello": 1}')
    assert main([str(tmp_path / "other.json")]) == 2
    assert main(["no-such-stack"]) == 2
    assert "not found" in capsys.readouterr().err


def test_command_line_prints_the_matrix(tmp_path):
    result = subprocess.run([sys.executable, "-m", "offline.access", EMR, "--format", "markdown"], cwd=PROJECT_DIR,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "### Access matrix: emr-prod" in result.stdout
    assert "`k8s:emr-task/api-gateway`" in result.stdout and "`secret/auth/jwt`" in result.stdout
    text = subprocess.run([sys.executable, "-m", "offline.access", EMR], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert text.returncode == 0 and "Access matrix: emr-prod" in text.stdout and "Traceback" not in text.stderr
