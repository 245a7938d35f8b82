"""The Vault estates of the EMR (000) and PhaGen (004) examples, applied to a real OpenBao server
from their offline plans, do exactly what the spec declares and nothing more."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from pathlib import Path

import hvac
import pytest
import yaml

from components.config import StackSpec, WorkloadSpec, parse_stack_spec
from components.vault.policy import TOKEN_SELF
from offline.run import PROJECT_DIR, plan_stack
from tests.conftest import CANARY, stack_namespace
from tests.vault.applier import Overrides, apply_plan, apply_resource, reset
from tests.vault.kubernetes_api import FakeKubernetesApi

EMR = "examples/emr/Pulumi.emr-prod.yaml"
PHAGEN = "examples/phagen/Pulumi.phagen-prod.yaml"
DENY = ["deny"]


def spec_of(stack: str) -> StackSpec:
    return parse_stack_spec(stack_namespace(stack), stack)


# ----- what the spec declares, derived here independently of the components -----


def declared_capabilities(spec: StackSpec, workload: WorkloadSpec) -> dict[str, list[str]]:
    secrets = {s.name: s for s in spec.secrets_on("vault")}
    paths: dict[str, set[str]] = {path: set(caps) for path, caps in TOKEN_SELF}
    for name in spec.reads(workload, "vault"):
        paths.setdefault(f"{spec.kv_mount(secrets[name])}/data/{spec.secret_path(secrets[name])}", set()).add("read")
    for name in workload.writes:
        if name in secrets:
            paths.setdefault(f"{spec.kv_mount(secrets[name])}/data/{spec.secret_path(secrets[name])}", set()).update({"create", "update"})
    for name in workload.versions:
        paths.setdefault(f"{spec.kv_mount(secrets[name])}/metadata/{spec.secret_path(secrets[name])}", set()).add("read")
    databases = {d.name: d for d in spec.vault.databases}
    for ref in workload.database_roles:
        database, _, role = ref.partition("/")
        paths.setdefault(f"{databases[database].mount}/creds/{role}", set()).add("read")
    if workload.database_roles:  # renewing and looking up its leases (#15)
        paths.update({"sys/leases/renew": {"update"}, "sys/leases/lookup": {"update"}})
    return {path: sorted(caps) for path, caps in paths.items()}


def neighbours(spec: StackSpec, workload: WorkloadSpec, declared: dict[str, list[str]]) -> set[str]:
    """Undeclared paths right next to what the workload may touch."""
    near: set[str] = set()
    for path in declared:
        if "/data/" in path:
            mount, rest = path.split("/data/", 1)
            near |= {
                path.rsplit("/", 1)[0], f"{path}/child", f"{path}-old", f"{mount}/data/",
                f"{mount}/metadata/{rest}", f"{mount}/delete/{rest}", f"{mount}/destroy/{rest}", f"{mount}/undelete/{rest}",
                f"{mount}/config",
            }
        if "/creds/" in path:
            mount = path.split("/creds/", 1)[0]
            near |= {f"{mount}/creds/other-role", *(f"{mount}/config/{d.name}" for d in spec.vault.databases),
                     *(f"{mount}/rotate-root/{d.name}" for d in spec.vault.databases), f"{mount}/roles/{path.rsplit('/', 1)[1]}"}
    others = [w for w in spec.all_workloads if w.name != workload.name and spec.vault_access(w)]
    for other in others:
        near |= set(declared_capabilities(spec, other))
    near |= {
        "sys/policy", f"sys/policy/{spec.vault_policy_name(workload)}", "sys/mounts", "sys/auth", "sys/leases/lookup",
        "identity/entity", "auth/token/create", "auth/token/lookup", "cubbyhole/x",
        f"auth/kubernetes/role/{spec.vault_role_name(workload)}", f"auth/approle/role/{spec.vault_role_name(workload)}/secret-id",
    }
    return near - set(declared)


def capability_matrix(root: hvac.Client, token: str, paths: list[str]) -> dict[str, list[str]]:
    """What Vault says the token may do on each path (sys/capabilities, asked with the root token:
    the workload's own token is not even allowed to ask)."""
    answer = root.write("sys/capabilities", token=token, paths=paths)
    data = answer["data"] if "data" in answer else answer
    return {path: sorted(data[path]) for path in paths}


def assert_matrix(spec: StackSpec, workload: WorkloadSpec, root: hvac.Client, token_client: hvac.Client) -> int:
    declared = declared_capabilities(spec, workload)
    undeclared = neighbours(spec, workload, declared)
    measured = capability_matrix(root, token_client.token, sorted([*declared, *undeclared]))
    expected = {**declared, **{p: DENY for p in undeclared}}
    mismatches = {p: (expected[p], measured[p]) for p in measured if measured[p] != expected[p]}
    table = "\n".join(f"  {p:<60} expected {e} measured {m}" for p, (e, m) in sorted(mismatches.items()))
    assert not mismatches, f"capability matrix of {workload.name} differs:\n{table}"
    return len(measured)


# ----- EMR: Kubernetes login, KV reads, dynamic PostgreSQL credentials -----


AUTH_DELEGATOR_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
TOKEN_SECRET = "kubernetes:core/v1:Secret"
AUTH_CONFIG = "vault:kubernetes/authBackendConfig:AuthBackendConfig"


def external_variant(directory: Path, stack: str, api_url: str, ca_pem: str, **auth) -> str:
    """The example with its Vault outside the cluster (#15): the API server's https URL and its CA."""
    document = yaml.safe_load((PROJECT_DIR / stack).read_text())
    document["config"]["secrets-platform:vault"]["kubernetes_auth"].update(vault_runs="external", host=api_url, ca_cert=ca_pem, **auth)
    path = directory / Path(stack).name
    path.write_text(yaml.safe_dump(document))
    return str(path)


def auth_delegation(plan, api: FakeKubernetesApi) -> str | None:
    """What the cluster does with the planned objects: the ClusterRoleBindings to system:auth-delegator let their
    subjects call TokenReview; the token controller fills the planned token Secret. Returns that token."""
    for r in plan.resources:
        if r.type == AUTH_DELEGATOR_BINDING and r.inputs["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"}:
            api.delegators |= {(s["namespace"], s["name"]) for s in r.inputs["subjects"] if s["kind"] == "ServiceAccount"}
    secrets = [r for r in plan.resources if r.type == TOKEN_SECRET and r.inputs.get("type") == "kubernetes.io/service-account-token"]
    if not secrets:
        return None
    (secret,) = secrets
    meta = secret.inputs["metadata"]
    return api.secret_token(meta["namespace"], meta["annotations"]["kubernetes.io/service-account.name"])


@dataclass
class Applied:
    spec: StackSpec
    client: hvac.Client
    kubernetes: FakeKubernetesApi
    database_password: str
    plan: object = None
    overrides: Overrides | None = None


@pytest.fixture(scope="module")
def emr(openbao, postgres, tmp_path_factory):
    """EMR with Vault outside the cluster: the plan's auth config (https host, CA, reviewer token) and
    auth-delegator binding, applied as they are; the TokenReview API requires the reviewer's token."""
    api = FakeKubernetesApi()
    server, url = api.serve()
    plan = plan_stack(external_variant(tmp_path_factory.mktemp("emr-external"), EMR, url, api.ca_pem()))
    spec = plan.spec
    database = spec.vault.databases[0]
    admin_password = f"initial-{CANARY}"
    with postgres.connect(postgres.superuser, postgres.password, "postgres") as admin:
        admin.autocommit = True
        admin.run(f'DROP DATABASE IF EXISTS "{database.database}"')
        admin.run(f"DROP ROLE IF EXISTS {database.username}")
        admin.run(f"CREATE ROLE {database.username} WITH LOGIN CREATEROLE PASSWORD '{admin_password}'")
        admin.run(f'CREATE DATABASE "{database.database}" OWNER {database.username}')
    with postgres.connect(database.username, admin_password, database.database) as owner:
        owner.run("CREATE TABLE public.tasks (id serial PRIMARY KEY, title text)")
        owner.run("CREATE SCHEMA audit")
        owner.run("CREATE TABLE audit.events (id serial PRIMARY KEY, what text)")
        owner.commit()
    client = openbao.client()
    reset(client)
    overrides = Overrides(token_reviewer_jwt=auth_delegation(plan, api), database_host="127.0.0.1", database_port=postgres.port,
                          database_password=admin_password, database_ssl_mode=postgres.ssl_mode)
    apply_plan(plan, client, overrides)
    yield Applied(spec, client, api, admin_password, plan, overrides)
    server.shutdown()


def kubernetes_login(openbao, applied: Applied, workload: WorkloadSpec, namespace=None, service_account=None, audience=None):
    token = applied.kubernetes.mint(namespace or workload.namespace, service_account or workload.service_account,
                                    [audience or applied.spec.vault.kubernetes_auth.audience])
    client = openbao.client_with_token(None)
    client.auth.kubernetes.login(applied.spec.vault_role_name(workload), token, mount_point=applied.spec.vault.kubernetes_auth.mount)
    return client


def test_emr_capability_matrix_matches_the_spec_exactly(openbao, emr):
    sizes = {}
    for workload in emr.spec.all_workloads:
        if emr.spec.vault_access(workload):
            sizes[workload.name] = assert_matrix(emr.spec, workload, emr.client, kubernetes_login(openbao, emr, workload))
    assert set(sizes) == {"api-gateway", "emr-service", "store-emr-task"}
    print("EMR capability matrix sizes:", sizes)


@pytest.mark.drill
def test_kubernetes_login_gets_exactly_its_policy_and_ttl(openbao, emr):
    gateway = next(w for w in emr.spec.workloads if w.name == "api-gateway")
    client = kubernetes_login(openbao, emr, gateway)
    me = client.auth.token.lookup_self()["data"]
    assert me["policies"] == [emr.spec.vault_policy_name(next(w for w in emr.spec.workloads if w.name == "api-gateway"))]  # no `default`
    assert me["ttl"] <= 3600 and me["ttl"] > 3500
    assert me["meta"]["service_account_namespace"] == "emr-task" and me["meta"]["service_account_name"] == "api-gateway"


@pytest.mark.parametrize("wrong", ["namespace", "service_account", "audience"])
def test_kubernetes_login_refuses_the_wrong_identity(openbao, emr, wrong):
    gateway = next(w for w in emr.spec.workloads if w.name == "api-gateway")
    overrides = {"namespace": "other", "service_account": "emr-service", "audience": "https://kubernetes.default.svc"}
    with pytest.raises(hvac.exceptions.VaultError):
        kubernetes_login(openbao, emr, gateway, **{wrong: overrides[wrong]})


@pytest.mark.drill
def test_an_external_vault_logs_in_through_the_generated_config_with_the_reviewer_token(openbao, emr):
    """#15: the config holds the API's https URL and CA and the dedicated reviewer's token; every TokenReview
    Vault made was authorised as that reviewer, bound by the planned ClusterRoleBinding and nothing else."""
    (config,) = [r for r in emr.plan.resources if r.type == AUTH_CONFIG]
    assert config.inputs["disableLocalCaJwt"] is True and config.inputs["kubernetesCaCert"] == emr.kubernetes.ca_pem()
    assert config.inputs["kubernetesHost"].startswith("https://127.0.0.1:")
    assert emr.kubernetes.delegators == {("kube-system", "vault-token-reviewer")}  # no workload may call TokenReview
    stored = emr.client.read("auth/kubernetes/config")["data"]
    assert stored["token_reviewer_jwt_set"] is True and stored["disable_local_ca_jwt"] is True
    before = len(emr.kubernetes.reviews)
    gateway = next(w for w in emr.spec.workloads if w.name == "api-gateway")
    me = kubernetes_login(openbao, emr, gateway).auth.token.lookup_self()["data"]
    assert me["policies"] == [emr.spec.vault_policy_name(gateway)]
    assert len(emr.kubernetes.reviews) == before + 1 and emr.kubernetes.refused == []


def _reconfigure(emr, **changes) -> None:
    """The auth config as planned, with `changes` to Vault's view of the cluster."""
    (config,) = [r for r in emr.plan.resources if r.type == AUTH_CONFIG]
    registration = replace(config, inputs={**config.inputs, **changes.pop("inputs", {})})
    apply_resource(registration, emr.client, replace(emr.overrides, **changes))


@pytest.mark.parametrize("wrong", ["reviewer-not-delegated", "reviewer-unknown", "ca"])
def test_a_wrong_reviewer_token_or_ca_fails_the_login(openbao, emr, wrong):
    gateway = next(w for w in emr.spec.workloads if w.name == "api-gateway")
    refused = len(emr.kubernetes.refused)
    if wrong == "reviewer-not-delegated":  # a real token of an account without system:auth-delegator
        _reconfigure(emr, token_reviewer_jwt=emr.kubernetes.secret_token("emr-task", "api-gateway"))
    elif wrong == "reviewer-unknown":  # a token this cluster never issued
        _reconfigure(emr, token_reviewer_jwt=FakeKubernetesApi().secret_token("kube-system", "vault-token-reviewer"))
    else:  # another cluster's CA: Vault must not trust the API server
        _reconfigure(emr, inputs={"kubernetesCaCert": FakeKubernetesApi().ca_pem()})
    try:
        with pytest.raises(hvac.exceptions.VaultError):
            kubernetes_login(openbao, emr, gateway)
        expected = {"reviewer-not-delegated": [403], "reviewer-unknown": [401], "ca": []}[wrong]  # TLS: never reaches the API
        assert emr.kubernetes.refused[refused:] == expected
    finally:
        _reconfigure(emr)
    assert kubernetes_login(openbao, emr, gateway).auth.token.lookup_self()["data"]["policies"] == [emr.spec.vault_policy_name(gateway)]


def test_client_jwt_mode_logs_in_exactly_the_accounts_the_plan_binds(openbao, emr, tmp_path):
    """reviewer: client: no stored token; Vault presents the login's own token, which the API accepts only for
    service accounts the plan binds to system:auth-delegator. Applied to a mount of its own beside EMR's."""
    api = FakeKubernetesApi()
    server, url = api.serve()
    mount = "kubernetes-client"
    try:
        plan = plan_stack(external_variant(tmp_path, EMR, url, api.ca_pem(), reviewer="client"))
        assert auth_delegation(plan, api) is None  # no token Secret
        gateway = next(w for w in plan.spec.workloads if w.name == "api-gateway")
        assert (gateway.namespace, gateway.service_account) in api.delegators
        emr.client.sys.enable_auth_method(method_type="kubernetes", path=mount)
        (config,) = [r for r in plan.resources if r.type == AUTH_CONFIG]
        assert "tokenReviewerJwt" not in config.inputs
        role_name = plan.spec.vault_role_name(gateway)
        (role,) = [r for r in plan.resources if r.type == "vault:kubernetes/authBackendRole:AuthBackendRole" and r.inputs["roleName"] == role_name]
        for planned in (config, role):
            apply_resource(replace(planned, inputs={**planned.inputs, "backend": mount}), emr.client, Overrides())
        token = api.mint(gateway.namespace, gateway.service_account, [plan.spec.vault.kubernetes_auth.audience])
        client = openbao.client_with_token(None)
        client.auth.kubernetes.login(role_name, token, mount_point=mount)
        assert client.auth.token.lookup_self()["data"]["policies"] == [plan.spec.vault_policy_name(gateway)]
        api.delegators.discard((gateway.namespace, gateway.service_account))  # the binding removed
        with pytest.raises(hvac.exceptions.VaultError):
            openbao.client_with_token(None).auth.kubernetes.login(role_name, token, mount_point=mount)
        assert api.refused == [403]
    finally:
        if f"{mount}/" in emr.client.sys.list_auth_methods()["data"]:
            emr.client.sys.disable_auth_method(mount)
        server.shutdown()


def test_dynamic_credentials_do_exactly_what_is_declared(openbao, emr, postgres):
    gateway = next(w for w in emr.spec.workloads if w.name == "api-gateway")
    client = kubernetes_login(openbao, emr, gateway)
    lease = client.read("database/creds/postgres-role")
    user, password = lease["data"]["username"], lease["data"]["password"]
    assert lease["lease_duration"] == 3600
    database = emr.spec.vault.databases[0].database
    with postgres.connect(user, password, database) as conn:
        conn.run("INSERT INTO public.tasks (title) VALUES ('triage')")
        assert conn.run("SELECT count(*) FROM public.tasks")[0][0] >= 1
        conn.commit()
        for forbidden in ("CREATE ROLE intruder", "SELECT * FROM audit.events", "CREATE TABLE public.mine (id int)", "DROP TABLE public.tasks"):
            with pytest.raises(Exception):
                conn.run(forbidden)
            conn.rollback()
    with postgres.connect(postgres.superuser, postgres.password, "postgres") as admin:
        attributes = admin.run("SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = :u", u=user)
        assert attributes == [[False, False, False, False, False]]
    emr.client.sys.revoke_lease(lease["lease_id"])
    with postgres.connect(postgres.superuser, postgres.password, "postgres") as admin:
        assert admin.run("SELECT count(*) FROM pg_roles WHERE rolname = :u", u=user)[0][0] == 0


@pytest.mark.drill
def test_a_dynamic_credential_consumer_renews_its_lease_then_its_token_revokes_it(openbao, emr, postgres):
    """token_no_default_policy (SP-VAULT-013) drops the default policy's sys/leases/renew: the workload's own
    policy carries it, so a long-running consumer keeps its database user until it is done (#15)."""
    gateway = next(w for w in emr.spec.workloads if w.name == "api-gateway")
    client = kubernetes_login(openbao, emr, gateway)
    lease = client.read("database/creds/postgres-role")
    renewed = client.sys.renew_lease(lease_id=lease["lease_id"], increment=1800)
    assert renewed["lease_id"] == lease["lease_id"] and 0 < renewed["lease_duration"] <= 3600
    assert client.sys.read_lease(lease_id=lease["lease_id"])["data"]["id"] == lease["lease_id"]
    user = lease["data"]["username"]
    client.auth.token.revoke_self()  # its leases end with it
    deadline = time.monotonic() + 10
    with postgres.connect(postgres.superuser, postgres.password, "postgres") as admin:
        while admin.run("SELECT count(*) FROM pg_roles WHERE rolname = :u", u=user)[0][0] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert admin.run("SELECT count(*) FROM pg_roles WHERE rolname = :u", u=user)[0][0] == 0


def test_without_the_lease_paths_a_no_default_policy_token_cannot_renew(openbao, emr):
    """The seam the lease paths close, shown on OpenBao: the same creds grant under token_no_default_policy but
    without LEASE_SELF, and renewal is refused. The renewal test above fails if the generated policy loses them."""
    name = "t-creds-without-lease-paths"
    emr.client.sys.create_or_update_policy(name=name, policy='path "database/creds/postgres-role" {\n  capabilities = ["read"]\n}\n')
    token = emr.client.auth.token.create(policies=[name], no_default_policy=True, ttl="10m")["auth"]["client_token"]
    client = openbao.client_with_token(token)
    lease = client.read("database/creds/postgres-role")
    try:
        with pytest.raises(hvac.exceptions.Forbidden):
            client.sys.renew_lease(lease_id=lease["lease_id"], increment=1800)
    finally:
        emr.client.sys.revoke_lease(lease["lease_id"])
        emr.client.sys.delete_policy(name)


def test_root_credentials_were_rotated(postgres, emr):
    database = emr.spec.vault.databases[0]
    with pytest.raises(Exception):
        postgres.connect(database.username, emr.database_password, database.database)


# ----- PhaGen: AppRole -----


@pytest.fixture(scope="module")
def phagen(openbao):
    spec = spec_of(PHAGEN)
    client = openbao.client()
    reset(client)
    apply_plan(plan_stack(PHAGEN), client, Overrides())
    return Applied(spec, client, FakeKubernetesApi(), "")


def approle_login(openbao, applied: Applied, workload: WorkloadSpec, **secret_id_options):
    role = applied.spec.vault_role_name(workload)
    role_id = applied.client.read(f"auth/approle/role/{role}/role-id")["data"]["role_id"]
    secret_id = applied.client.write(f"auth/approle/role/{role}/secret-id", **secret_id_options)["data"]["secret_id"]
    client = openbao.client_with_token(None)
    client.auth.approle.login(role_id, secret_id)
    return client, role_id, secret_id


def test_phagen_capability_matrix_matches_the_spec_exactly(openbao, phagen):
    sizes = {}
    for workload in phagen.spec.all_workloads:
        if phagen.spec.vault_access(workload):
            client, _, _ = approle_login(openbao, phagen, workload)
            sizes[workload.name] = assert_matrix(phagen.spec, workload, phagen.client, client)
    assert set(sizes) == {"phagen-backend", "phagen-rotation"}
    print("PhaGen capability matrix sizes:", sizes)


def test_approle_secret_ids_are_bounded(openbao, phagen):
    backend = next(w for w in phagen.spec.workloads if w.name == "phagen-backend")
    client, role_id, secret_id = approle_login(openbao, phagen, backend)
    me = client.auth.token.lookup_self()["data"]
    assert me["policies"] == [phagen.spec.vault_policy_name(backend)] and me["ttl"] <= 3600
    role = phagen.client.read(f"auth/approle/role/{phagen.spec.vault_role_name(backend)}")["data"]
    assert (role["secret_id_ttl"], role["token_ttl"], role["token_max_ttl"], role["secret_id_num_uses"]) == (86400, 3600, 14400, 1)
    anonymous = openbao.client_with_token(None)
    with pytest.raises(hvac.exceptions.VaultError):  # single use: already consumed
        anonymous.auth.approle.login(role_id, secret_id)
    with pytest.raises(hvac.exceptions.VaultError):  # wrong secret id
        anonymous.auth.approle.login(role_id, "00000000-0000-0000-0000-000000000000")
    role_name = phagen.spec.vault_role_name(backend)
    expiring = phagen.client.write(f"auth/approle/role/{role_name}/secret-id", ttl="1s")["data"]["secret_id"]
    time.sleep(2.5)
    with pytest.raises(hvac.exceptions.VaultError):  # expired
        anonymous.auth.approle.login(role_id, expiring)


SEED_004_POLICY = """
path "secret/data/phagen/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow secret rotation
path "secret/metadata/phagen/*" {
  capabilities = ["list"]
}
"""


def test_the_seed_policy_as_written_fails_the_matrix_and_the_pack(phagen):
    """The check can fail: seed 004's CRUD on a glob reaches every neighbour, and the pack blocks it."""
    from policy.engine import evaluate
    from policy.rules import ALL_RULES
    from policy.settings import settings_for

    phagen.client.sys.create_or_update_policy(name="phagen-as-written", policy=SEED_004_POLICY)
    token = phagen.client.auth.token.create(policies=["phagen-as-written"], no_default_policy=True, ttl="10m")["auth"]["client_token"]
    backend = next(w for w in phagen.spec.workloads if w.name == "phagen-backend")
    as_written = hvac.Client(url=phagen.client.url, token=token)
    with pytest.raises(AssertionError, match="capability matrix of phagen-backend differs"):
        assert_matrix(phagen.spec, backend, phagen.client, as_written)
    neighbour = f"secret/data/{phagen.spec.path_prefix}db-password-old"
    assert capability_matrix(phagen.client, token, [neighbour])[neighbour] == ["create", "delete", "list", "read", "update"]
    resource = {"type": "vault:index/policy:Policy", "urn": "urn:pulumi:prod::p::vault:index/policy:Policy::as-written", "name": "as-written",
                "props": {"name": "phagen-as-written", "policy": SEED_004_POLICY}}
    report = evaluate([resource], settings_for("prod", ALL_RULES))
    assert report.blocking and {"SP-VAULT-002", "SP-VAULT-004"} <= {v.rule_id for v in report.violations}
