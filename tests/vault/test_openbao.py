"""The Vault estates of the EMR (000) and PhaGen (004) examples, applied to a real OpenBao server
from their offline plans, do exactly what the spec declares and nothing more."""

from __future__ import annotations

import time
from dataclasses import dataclass

import hvac
import pytest

from components.config import StackSpec, WorkloadSpec, parse_stack_spec
from components.vault.policy import TOKEN_SELF
from offline.run import plan_stack
from tests.conftest import CANARY, stack_namespace
from tests.vault.applier import Overrides, apply_plan, reset
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


@dataclass
class Applied:
    spec: StackSpec
    client: hvac.Client
    kubernetes: FakeKubernetesApi
    database_password: str


@pytest.fixture(scope="module")
def emr(openbao, postgres):
    spec = spec_of(EMR)
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
    api = FakeKubernetesApi()
    server, url = api.serve()
    client = openbao.client()
    reset(client)
    plan = plan_stack(EMR)
    apply_plan(plan, client, Overrides(kubernetes_host=url, kubernetes_ca_cert=api.ca_pem(), database_host="127.0.0.1", database_port=postgres.port,
                                       database_password=admin_password, database_ssl_mode=postgres.ssl_mode))
    yield Applied(spec, client, api, admin_password)
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
