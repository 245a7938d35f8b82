"""Round trip (#17 item 4): seed an estate on the real local servers, discover it, plan the draft with its
`adopt:` ids, and check that the plan imports every resource that exists (none is created a second time),
that each drafted workload's planned access is its access as it is minus the over-broad grants, and that the
plan's access matrix equals the example's intent.yaml (transcribed from the seed document, least privilege:
none of the over-broad grants the report names) on the secrets the estate holds; every difference between
the two is named per seed with its reason (`IntentCheck`). No seeded value reaches any output.

What a draft leaves "to review" (a consumer's ServiceAccount the estate does not show, the `aws:` section a
Vault-only draft lacks, the writers of a hand-rotated secret nobody may write today) is filled in by the test,
named per seed; nothing else of the draft is changed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import pytest
import yaml

from components.config import parse_stack_spec
from components.spec.aws import ROLE_POLICY_NAME
from offline.access import access_matrix
from offline.access.model import ADMIN, EFFECTIVE, READ, UNKNOWN, WRITE
from offline.access.render import matrix_markdown
from offline.report import import_file, plan_document
from offline.run import PROJECT_DIR
from tests.conftest import CANARY, plan_raw
from tests.discover import seeds
from tests.discover.test_discover import NS, Run, aws, ok, vault, vault_estate  # noqa: F401 (the seeding fixture)

INLINE_EXCLUSIVE = "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive"
ATTACHED_EXCLUSIVE = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
SECRET, ROLE, KEY, ALIAS = "aws:secretsmanager/secret:Secret", "aws:iam/role:Role", "aws:kms/key:Key", "aws:kms/alias:Alias"
VAULT_POLICY, MOUNT = "vault:index/policy:Policy", "vault:index/mount:Mount"
VAULT_ROLES = ("vault:kubernetes/authBackendRole:AuthBackendRole", "vault:appRole/authBackendRole:AuthBackendRole")


def raw_of(run: Run) -> dict[str, Any]:
    return {key.removeprefix(f"{NS}:"): value for key, value in run.config.items()}


def fill_writers(raw: dict[str, Any], run: Run) -> dict[str, Any]:
    """The report's "To review" names the hand-rotated secrets no grant lets anyone write (`secrets[i].rotation.kind`):
    the test names their writers as a person would, an operator with a test role of the stack's account (and, for
    Vault secrets, a test identity group)."""
    unwritten = [raw["secrets"][int(r.split("[", 1)[1].split("]", 1)[0])]["name"]
                 for r in run.json["review"] if r.startswith("secrets[") and r.split(":", 1)[0].endswith("].rotation.kind")]
    if unwritten:
        backends = {s["name"]: s.get("backend", "aws") for s in raw["secrets"]}
        operator = {"name": "test-rotators", "writes": unwritten}
        if any(backends[n] == "aws" for n in unwritten):
            operator["aws_role_arn"] = f"arn:aws:iam::{raw['aws']['account_id']}:role/test-rotators"
        if any(backends[n] == "vault" for n in unwritten):
            operator["vault_group_id"] = "00000000-0000-4000-8000-000000000001"
        raw.setdefault("operators", []).append(operator)
    return raw


def planned(raw: dict[str, Any], stack: str):
    parse_stack_spec(raw, "draft")  # the draft (as filled in) is a valid stack: one line per problem otherwise
    plan = plan_raw(raw, stack=stack, extra={f"initial-value:{s['name']}": CANARY for s in raw["secrets"]})
    assert CANARY not in json.dumps([r.inputs for r in plan.resources], default=str)
    # Nor in what the plan prints: its JSON document, the import file, the access matrix.
    matrix = access_matrix(plan.resources, plan.stack)
    printed = [json.dumps(plan_document(plan), default=str), json.dumps(import_file(plan), default=str), matrix_markdown(matrix, limit=None),
               json.dumps([dataclasses.asdict(e) for e in matrix.entries], default=str)]
    assert not [text for text in printed if CANARY in text], "a seeded secret value reached the plan's output"
    return plan


def of_type(plan, *types: str) -> dict[str, Any]:
    return {r.inputs.get("name") or r.inputs.get("roleName"): r for r in plan.resources if r.type in types}


def assert_aws_adopted(plan, api) -> None:
    """Every secret, key alias and role of the estate that the plan declares is imported by its id, never created."""
    sm, kms, iam = api.client("secretsmanager"), api.client("kms"), api.client("iam")
    existing_secrets = {s["Name"]: s["ARN"] for s in sm.list_secrets()["SecretList"]}
    existing_aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    existing_roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    for name, secret in of_type(plan, SECRET).items():
        if name in existing_secrets:
            assert (secret.operation, secret.import_id) == ("import", existing_secrets[name]), name
    for name, alias in of_type(plan, ALIAS).items():
        if name in existing_aliases:
            assert (alias.operation, alias.import_id) == ("import", name), name
            key = next(r for r in plan.resources if r.type == KEY and r.parent == alias.parent)
            assert (key.operation, key.import_id) == ("import", existing_aliases[name]), name
    for name, role in of_type(plan, ROLE).items():
        if name in existing_roles:
            assert (role.operation, role.import_id) == ("import", name), name


def assert_adopted_roles_owned(run: Run, plan, api) -> None:
    """Each adopted role: the plan owns its policies exactly (`secrets-access`, nothing attached), and the report names
    every other policy the role holds in the estate (read here from the API, not from discovery) as removed."""
    iam = api.client("iam")
    adopted = {w["adopt"]["role"] for w in run.config[f"{NS}:workloads"] if "role" in w.get("adopt", {})}
    inline = {r.inputs["roleName"]: r.inputs["policyNames"] for r in plan.resources if r.type == INLINE_EXCLUSIVE}
    attached = {r.inputs["roleName"]: r.inputs["policyArns"] for r in plan.resources if r.type == ATTACHED_EXCLUSIVE}
    assert inline == {role: [ROLE_POLICY_NAME] for role in adopted} and attached == {role: [] for role in adopted}
    expected = {}
    for role in adopted:
        names = sorted(n for n in iam.list_role_policies(RoleName=role)["PolicyNames"] if n != ROLE_POLICY_NAME)
        arns = sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"])
        if names or arns:
            expected[role] = {"inline_deleted": names, "attached_detached": arns}
    assert run.json["policies_removed"] == expected


def assert_access_is_as_is_minus_over_broad(run: Run, plan, principal_of) -> None:
    """Each drafted workload reads exactly its drafted secrets (what it reads today, by name), nothing else,
    and gains nothing the report does not list under "added"."""
    matrix = access_matrix(plan.resources, plan.stack)
    paths = {s["name"]: s for s in run.config[f"{NS}:secrets"]}
    held = {(e["principal"], e["secret"]) for e in run.json["access_as_is"] if e["capability"] == READ}
    added = {(a["workload"], a["secret"]) for a in run.json["added"]}
    controller = run.config.get(f"{NS}:kubernetes", {}).get("eso", {}).get("workload")
    synced = {item["secret"] for w in run.config[f"{NS}:workloads"] for es in w.get("external_secrets", ()) for item in es["data"]}
    for workload in run.config[f"{NS}:workloads"]:
        principal = principal_of(workload)
        if principal is None:
            continue
        # The controller's reads are derived: what it syncs through the ClusterSecretStore.
        wanted = {_id(paths[n]) for n in (synced if workload["name"] == controller else workload["reads"])}
        # A hand-rotated secret's writer today keeps that write, by name (and nothing more).
        writes = {_id(paths[n]) for n in workload.get("writes", ())}
        assert writes <= {e["secret"] for e in run.json["access_as_is"] if e["capability"] == WRITE}, (workload["name"], writes)
        actual = {(e.secret, e.capability) for e in matrix.entries if e.principal == principal and e.status == EFFECTIVE}
        assert actual == {(s, READ) for s in wanted} | {(s, WRITE) for s in writes}, (workload["name"], actual)
        gained = {s for s in wanted if not any(secret == s for _, secret in held)}
        # The controller reads for the consumers: what the report adds for them, it gains.
        assert gained <= {s for w, s in added if w == workload["name"] or workload["name"] == controller}, (workload["name"], gained)


def _id(secret: dict) -> str:
    return f"vault:{secret['mount']}/{secret['path']}" if secret.get("backend") == "vault" else f"aws:{secret['path']}"


def iam_principal(workload: dict) -> str | None:
    return f"iam-role:{workload['role_name']}" if "role_name" in workload else None


# --- Against the document's intent -----------------------------------------------------------------

@dataclass(frozen=True)
class IntentCheck:
    """How one round trip compares with its example's intent.yaml (transcribed from the seed document). The intent is
    least privilege: it holds none of the over-broad grants the report names, so an equal matrix is the estate's
    intended access with those grants gone. Restricted to the secrets the estate holds (a seed replays only the
    document's commands), with every difference named and explained here."""

    example: str
    # intent consumer -> its principals in the plan, when the estate names them otherwise (default: the intent's own)
    principals: dict[str, frozenset[str]] = dataclass_field(default_factory=dict)
    # intent consumer -> why the round trip cannot hold it (its principals must then hold nothing)
    absent: dict[str, str] = dataclass_field(default_factory=dict)
    # intent consumer -> (access the plan has beyond the intent, intended access it lacks, why)
    differs: dict[str, tuple[frozenset, frozenset, str]] = dataclass_field(default_factory=dict)
    # plan principal outside the intent -> why it holds access
    extra: dict[str, str] = dataclass_field(default_factory=dict)
    mount: str | None = None  # the test's Vault mount standing for the document's `secret`


def intent_of(example: str) -> dict[str, Any]:
    return yaml.safe_load((PROJECT_DIR / "examples" / example / "intent.yaml").read_text())


def assert_matches_intent(run: Run, plan, check: IntentCheck) -> None:
    intent = intent_of(check.example)
    rename = (lambda sid: sid.replace("vault:secret/", f"vault:{check.mount}/", 1)) if check.mount else (lambda sid: sid)
    discovered = set(run.json["secrets"])
    matrix = access_matrix(plan.resources, plan.stack)

    def held(principals) -> set[tuple[str, str]]:
        return {(e.secret, e.capability) for e in matrix.entries if e.principal in principals and e.status == EFFECTIVE and e.secret in discovered}

    listed: set[str] = set()
    for consumer in intent["consumers"]:
        name = consumer["name"]
        intended = {(rename(s), c) for s, c in (
            {(s, READ) for s in consumer.get("reads", ())} | {(s, WRITE) for s in consumer.get("writes", ())}
            | {(s, ADMIN) for s in consumer.get("administers", ())}) if rename(s) in discovered}
        principals = check.principals.get(name, frozenset(consumer["principals"]))
        listed |= principals
        if principals == {CONTROLLER}:
            continue  # listed, not compared: see CONTROLLER
        if name in check.absent:
            assert intended and not held(principals), (name, check.absent[name], held(principals))
            continue
        more, less, _ = check.differs.get(name, (frozenset(), frozenset(), ""))
        assert held(principals) == (intended - less) | more, (name, sorted(held(principals)), sorted(intended))
    holders = {e.principal for e in matrix.entries if e.secret in discovered and e.status in (EFFECTIVE, UNKNOWN)}
    assert holders - listed == set(check.extra), sorted(holders - listed)
    assert set(check.absent) | set(check.differs) | set(check.principals) <= {c["name"] for c in intent["consumers"]}


# The External Secrets controller's own row in each intent is its chart's RBAC reach over every service account of
# the example's cluster; the estates replayed here hold only the documents' secrets and service accounts, and the
# chart's values are not in any estate discover reads. Its reach is proved on the plans themselves
# (tests/offline/test_access_eso_controller.py); here it is listed, not compared.
CONTROLLER = "k8s:external-secrets/external-secrets"

WRITERS_FILLED = "the test names the writers of hand-rotated secrets the report asks for (fill_writers): a person's choice, not the estate's"
TEST_ROTATORS_AWS = f"aws:arn:aws:iam::{seeds.ACCOUNT}:role/test-rotators"
TEST_ROTATORS_VAULT = "vault-group:00000000-0000-4000-8000-000000000001"
NO_ROTATION = ("`rotate-secret` names the document's Lambda, which is not in the estate: the estate records no rotation, so the "
               "draft rotates it by hand (the report says so) and no rotation function exists to compare")


# --- AWS ------------------------------------------------------------------------------------------

AWS_SEEDS = {
    # seed: (build, prefix, stack, fill-ins for what the draft leaves to review)
    "000": (seeds.aws_000, "prod/", "emr-prod", {"workloads": {"emr-service": {"namespace": "emr-task", "service_account": "emr-service"}},
                                                  "cluster": True}),
    "001": (seeds.aws_001, "vibebox/", "vibebox-prod", {"workloads": {"vibebox-backend": {"namespace": "vibebox", "service_account": "backend"}},
                                                        "cluster": True}),
    "004": (seeds.aws_004, "phagen/", "phagen-prod", {"workloads": {"phagen-app": {"namespace": "phagen", "service_account": "phagen-app"}},
                                                      "cluster": True}),
}


AWS_INTENT = {
    "000": IntentCheck(
        "emr",
        principals={"emr-service": frozenset({"iam-role:emr-service", "k8s:emr-task/emr-service"}),
                    # The draft's prefix is the document's `prod/`, so derived names start `prod-`, not the example's `emr-prod-`.
                    "postgres rotation Lambda": frozenset({"iam-role:prod-rotate-database-postgres"})},
        differs={"emr-service": (
            frozenset((f"aws:prod/{p}", READ) for p in ("auth/jwt", "database/postgres", "emr/epic")), frozenset(),
            "the document's IAM policy gives the EMR service the Secrets Manager copies of every secret (prod/*); the example keeps "
            "JWT and the vendor credentials in Vault only and gives the service dynamic database credentials, so its intent holds no "
            "AWS secret: the draft keeps what the role reads today, by name (the glob and key/* go)")},
        absent={"migrations": "not in the document (the example adds it): no grant in the estate"},
        extra={TEST_ROTATORS_AWS: WRITERS_FILLED}),
    "001": IntentCheck(
        "vibebox",
        principals={"backend": frozenset({"iam-role:vibebox-backend", "k8s:vibebox/backend"})},
        differs={"backend": (
            frozenset((f"aws:vibebox/{n}", WRITE) for n in ("database-password", "jwt-secret")), frozenset(),
            "the estate has no rotation function: the backend's role puts and updates every secret of the prefix today, so the "
            "draft rotates them by hand and keeps that write, by name (create, rotate, delete and the glob go)")},
        absent={"database-password rotation (connection draining)": "no rotation in the estate (rotate-secrets.sh is a script): " + NO_ROTATION,
                "jwt-secret rotation (grace period)": "no rotation in the estate (rotate-secrets.sh is a script): " + NO_ROTATION,
                "External Secrets (secretstore-aws.yaml, -gcp.yaml, -azure.yaml, -vault.yaml)": "the AWS round trip reads no manifests"}),
    "004": IntentCheck(
        "phagen",
        # The document's AWS reader is unnamed ("the app"); the example names it phagen-api, the estate phagen-app.
        principals={"phagen-api (stack addition)": frozenset({"iam-role:phagen-app", "k8s:phagen/phagen-app"})},
        differs={"phagen-api (stack addition)": (
            frozenset({("aws:phagen/db_password", WRITE)}), frozenset(),
            "with no rotation recorded the secret is hand-rotated, and the app's role puts and updates it today: the draft keeps "
            "that write, by name (ListSecrets and the glob go)")},
        absent={"database rotation Lambda": NO_ROTATION}),
}


def fill(raw: dict[str, Any], fills: dict[str, Any]) -> dict[str, Any]:
    for workload in raw["workloads"]:
        workload.update(fills.get("workloads", {}).get(workload["name"], {}))
    if fills.get("cluster"):
        raw["cluster"] = {"oidc_issuer_url": f"https://{seeds.OIDC}", "oidc_provider_arn": f"arn:aws:iam::{seeds.ACCOUNT}:oidc-provider/{seeds.OIDC}"}
    return raw


@pytest.mark.parametrize("seed", sorted(AWS_SEEDS))
def test_aws_seed_round_trips(seed, tmp_path, capsys, aws_api):
    build, prefix, stack, fills = AWS_SEEDS[seed]
    build(aws_api.client)
    run = ok(aws(tmp_path, capsys, aws_api, prefix, stack))
    plan = planned(fill_writers(fill(raw_of(run), fills), run), stack)
    assert_aws_adopted(plan, aws_api)
    # Every discovered secret is in the plan, imported.
    arns = {s["path"]: s["adopt"] for s in run.config[f"{NS}:secrets"]}
    assert {n: (r.operation, r.import_id) for n, r in of_type(plan, SECRET).items()} == {p: ("import", a) for p, a in arns.items()}
    assert_access_is_as_is_minus_over_broad(run, plan, iam_principal)
    assert_adopted_roles_owned(run, plan, aws_api)
    assert run.json["policies_removed"], "each AWS seed's role holds a policy the draft replaces"
    assert_matches_intent(run, plan, AWS_INTENT[seed])


def test_seed_002_with_manifests_round_trips_through_the_cluster_store(tmp_path, capsys, aws_api):
    seeds.aws_002(aws_api.client)
    manifests = seeds.manifests("002", tmp_path / "k8s")
    run = ok(aws(tmp_path, capsys, aws_api, "autolytiq/prod/", "autolytiq-prod", "--manifests", str(manifests)))
    # The report asks for the consumer's ServiceAccount (not in the estate); the test names it.
    plan = planned(fill_writers(fill(raw_of(run), {"workloads": {"autolytiq": {"service_account": "autolytiq"}}}), run), "autolytiq-prod")
    assert_aws_adopted(plan, aws_api)
    objects = {(r.inputs["kind"], r.inputs["metadata"].get("namespace"), r.inputs["metadata"]["name"]): r
               for r in plan.resources if r.type.startswith("kubernetes:") and "kind" in r.inputs}
    store = objects[("ClusterSecretStore", None, "aws-secrets-manager")]
    assert (store.operation, store.import_id) == ("import", "aws-secrets-manager")
    assert store.inputs["spec"]["conditions"] == [{"namespaces": ["autolytiq"]}]  # the estate's store had none: least privilege
    for name in ("jwt-secrets", "database-credentials"):
        es = objects[("ExternalSecret", "autolytiq", name)]
        assert (es.operation, es.import_id) == ("import", f"autolytiq/{name}")
    controller_sa = objects[("ServiceAccount", "external-secrets", "external-secrets")]
    assert (controller_sa.operation, controller_sa.import_id) == ("import", "external-secrets/external-secrets")
    assert_access_is_as_is_minus_over_broad(run, plan, iam_principal)
    assert_adopted_roles_owned(run, plan, aws_api)
    # Through the store, the namespace reads exactly what its ExternalSecrets sync: the as-is `namespace:*` reach is gone.
    matrix = access_matrix(plan.resources, plan.stack)
    reach = {e.secret for e in matrix.entries if e.principal == "namespace:autolytiq" and e.status == EFFECTIVE}
    assert reach == {"aws:autolytiq/prod/jwt", "aws:autolytiq/prod/database"}
    assert not [e for e in matrix.entries if e.principal.startswith("namespace:") and e.principal != "namespace:autolytiq"]
    assert_matches_intent(run, plan, IntentCheck(
        "autolytiq",
        absent={**{service: "the document's two ExternalSecrets sync into namespace autolytiq without naming the service that reads "
                            "them, and its services hold no grant of their own: one consumer, the ServiceAccount the test names"
                   for service in ("api", "customer-service", "notifications", "integrations")},
                "secrets operators (aws)": "the document names no operator; " + WRITERS_FILLED},
        differs={"External Secrets (store aws-secrets-manager, ExternalSecrets in autolytiq)": (
            frozenset(), frozenset((f"aws:autolytiq/prod/{n}", READ) for n in seeds.AUTOLYTIQ if n not in ("jwt", "database")),
            "the controller's role reads the eight exact ARNs today; the draft derives its reads from what the estate's "
            "ExternalSecrets sync (jwt, database): the other six have no ExternalSecret in the estate")},
        extra={"k8s:autolytiq/autolytiq": "the namespace's one consumer (see absent)", TEST_ROTATORS_AWS: WRITERS_FILLED}))


def test_seed_003_with_manifests_round_trips_to_the_documents_intent(tmp_path, capsys, aws_api):
    """EONPRO: three secrets, the controller's role reading only the database (the ExternalSecret's other two keys
    cannot sync today), the ClusterSecretStore open to every namespace. After discover → plan: the store is limited
    to eonpro, the controller's role reads the three synced secrets, the app's ServiceAccount reads its Secret."""
    seeds.aws_003(aws_api.client)
    manifests = seeds.manifests("003", tmp_path / "k8s")
    run = ok(aws(tmp_path, capsys, aws_api, "eonpro/prod/", "eonpro-prod", "--manifests", str(manifests)))
    assert {b["where"] for b in run.json["over_broad"]} == {"ClusterSecretStore aws-secrets-manager (no spec.conditions)"}
    # The report asks for the app's ServiceAccount (not in the estate); the document's app is eonpro-app (intent).
    plan = planned(fill_writers(fill(raw_of(run), {"workloads": {"eonpro": {"service_account": "eonpro-app"}}}), run), "eonpro-prod")
    assert_aws_adopted(plan, aws_api)
    arns = {s["path"]: s["adopt"] for s in run.config[f"{NS}:secrets"]}
    assert {n: (r.operation, r.import_id) for n, r in of_type(plan, SECRET).items()} == {p: ("import", a) for p, a in arns.items()}
    objects = {(r.inputs["kind"], r.inputs["metadata"].get("namespace"), r.inputs["metadata"]["name"]): r
               for r in plan.resources if r.type.startswith("kubernetes:") and "kind" in r.inputs}
    store = objects[("ClusterSecretStore", None, "aws-secrets-manager")]
    assert (store.operation, store.import_id, store.inputs["spec"]["conditions"]) == ("import", "aws-secrets-manager", [{"namespaces": ["eonpro"]}])
    es = objects[("ExternalSecret", "eonpro", "eonpro-secrets")]
    assert (es.operation, es.import_id, es.inputs["spec"]["target"]["name"]) == ("import", "eonpro/eonpro-secrets", "eonpro-app-secrets")
    assert_access_is_as_is_minus_over_broad(run, plan, iam_principal)
    assert_adopted_roles_owned(run, plan, aws_api)
    assert run.json["policies_removed"] == {"eonpro-prod-external-secrets": {"inline_deleted": ["external-secrets-access"], "attached_detached": []}}
    assert_matches_intent(run, plan, IntentCheck(
        "eonpro",
        absent={
            "phi-reencrypt": "the re-encryption job (`npm run migrate:reencrypt-phi`) holds no grant in the estate: discover cannot know it",
            "database rotation Lambda": "the document's `rotate-secret` names a Lambda outside the estate and no schedule: the estate "
                                        "records no rotation, so the draft rotates by hand (the report says so)",
            "JWT rotation (blue-green with overlap)": "the blue-green rotation is a process, not in the estate: drafted as manual",
        },
        extra={TEST_ROTATORS_AWS: WRITERS_FILLED}))


# --- Vault (OpenBao) ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed, stack", [("000", "emr-prod"), ("001", "vibebox-prod"), ("004", "phagen-prod")])
def test_vault_seed_round_trips(seed, stack, tmp_path, capsys, openbao, vault_estate):
    mount, token_env = vault_estate(seed)
    extra = ["--manifests", str(seeds.manifests(seed, tmp_path / "k8s", mount, f"{mount}-auth"))] if seed in ("000", "001") else []
    run = ok(vault(tmp_path, capsys, openbao, mount, token_env, stack, *extra))
    raw = raw_of(run)
    # A Vault-only draft has no `aws:` section, which the spec requires of every stack (SPEC_KEYS.md, open question).
    raw.setdefault("aws", {"account_id": seeds.ACCOUNT, "region": seeds.REGION})
    # The test's OpenBao speaks http; prod requires https: the address a person writes for the real server.
    raw["vault"]["address"] = "https://vault.example.com:8200"
    if "kubernetes" in raw and not any(w["name"] == raw["kubernetes"]["eso"].get("workload", "external-secrets") for w in raw["workloads"]):
        # The document's store signs in as an application; the spec declares the controller's identity too.
        raw["workloads"].append({"name": "external-secrets", "namespace": "external-secrets", "service_account": "external-secrets"})
    plan = planned(fill_writers(raw, run), stack)
    client = openbao.client()
    policies = set(client.sys.list_policies()["data"]["policies"])
    for name, policy in of_type(plan, VAULT_POLICY).items():
        if name in policies:
            assert (policy.operation, policy.import_id) == ("import", name), name
    drafted_roles = {w["vault_role_name"]: w["adopt"]["vault_role"] for w in run.config[f"{NS}:workloads"] if "vault_role_name" in w}
    for name, role in of_type(plan, *VAULT_ROLES).items():
        if name in drafted_roles:
            assert (role.operation, role.import_id) == ("import", drafted_roles[name]), name
    # Seed 004's only role reaches no existing secret (its glob covers phagen/*, the secrets are elsewhere): no workload.
    assert set(drafted_roles) <= set(of_type(plan, *VAULT_ROLES)) and (seed == "004" or drafted_roles)
    mounts = {r.inputs["path"]: r for r in plan.resources if r.type == MOUNT}
    assert (mounts[mount].operation, mounts[mount].import_id) == ("import", mount)
    auth = {r.inputs["path"]: r for r in plan.resources if r.type == "vault:index/authBackend:AuthBackend"}
    assert all(r.operation == "import" for p, r in auth.items() if p.startswith(mount)), {p: r.operation for p, r in auth.items()}
    matrix = access_matrix(plan.resources, plan.stack)
    paths = {s["name"]: s for s in run.config[f"{NS}:secrets"]}
    for workload in run.config[f"{NS}:workloads"]:
        if "vault_role_name" not in workload:
            continue
        kind = "approle" if workload.get("vault_login") == "approle" else "kubernetes"
        principal = next(p for p in matrix.principals if p.startswith("vault-role:") and p.endswith(f"/{workload['vault_role_name']}"))
        actual = {(e.secret, e.capability) for e in matrix.entries if e.principal == principal and e.status == EFFECTIVE}
        # A hand-rotated secret's writer today keeps that write, by name (the report's "removes" lists the rest).
        assert actual == {(_id(paths[n]), READ) for n in workload["reads"]} | {(_id(paths[n]), WRITE) for n in workload.get("writes", ())}, (
            workload["name"], kind, actual)
    assert_matches_intent(run, plan, VAULT_INTENT[seed](mount))


# --- An adopted role's existing policies (#17) ---------------------------------------------------------


def test_an_adopted_role_loses_its_existing_policies_and_the_report_names_them(tmp_path, capsys, aws_api, monkeypatch):
    """A role holding an over-broad inline policy, a customer managed policy and an AWS managed one: after
    discover → plan, the plan owns the role's policies exactly (its `secrets-access` and nothing attached), the
    plan's matrix shows only that policy's access, the report names each policy `pulumi up` removes, and the
    policy pack flags none of the exclusive resources."""
    from policy.engine import evaluate
    from policy.rules import ALL_RULES
    from policy.settings import settings_for

    # moto serves AWS managed policies only when asked (its IAM backend is built at the first IAM call after the reset).
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    sm, iam = aws_api.client("secretsmanager"), aws_api.client("iam")
    sm.create_secret(Name="shop/prod/db", SecretString=seeds.value("password"))
    sm.create_secret(Name="shop/prod/stripe", SecretString=seeds.value())
    iam.create_role(RoleName="shop-api", AssumeRolePolicyDocument=json.dumps(seeds._irsa("shop", "api")))
    # Today: every secret of the account (inline), full Secrets Manager (managed), and an old `secrets-access`
    # whose name the program's own policy takes over (replaced, not deleted).
    iam.put_role_policy(RoleName="shop-api", PolicyName="everything", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}))
    iam.put_role_policy(RoleName="shop-api", PolicyName=ROLE_POLICY_NAME, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": f"arn:aws:secretsmanager:{seeds.REGION}:{seeds.ACCOUNT}:secret:shop/prod/db-*"}]}))
    wide = iam.create_policy(PolicyName="shop-secrets-wide", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "kms:Decrypt"], "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="shop-api", PolicyArn=wide)
    managed = "arn:aws:iam::aws:policy/SecretsManagerReadWrite"
    iam.attach_role_policy(RoleName="shop-api", PolicyArn=managed)

    run = ok(aws(tmp_path, capsys, aws_api, "shop/prod/", "shop-prod"))
    assert run.json["policies_removed"] == {"shop-api": {"inline_deleted": ["everything"], "attached_detached": sorted([wide, managed])}}
    section = run.report.split("## Policies `pulumi up` removes from adopted roles", 1)[1].split("\n## ", 1)[0]
    assert "IAM role shop-api: deletes inline `everything`; detaches " in section and wide in section and managed in section
    assert f"`{ROLE_POLICY_NAME}`" not in section.split("goes:", 1)[1]  # replaced by the program's own, not removed

    raw = fill(raw_of(run), {"cluster": True})
    plan = planned(fill_writers(raw, run), "shop-prod")
    assert_aws_adopted(plan, aws_api)
    assert_adopted_roles_owned(run, plan, aws_api)
    role = of_type(plan, ROLE)["shop-api"]
    exclusive = {r.type: r for r in plan.resources if r.type in (INLINE_EXCLUSIVE, ATTACHED_EXCLUSIVE)}
    assert set(exclusive) == {INLINE_EXCLUSIVE, ATTACHED_EXCLUSIVE}
    assert exclusive[INLINE_EXCLUSIVE].inputs == {"roleName": "shop-api", "policyNames": [ROLE_POLICY_NAME]}
    assert exclusive[ATTACHED_EXCLUSIVE].inputs == {"roleName": "shop-api", "policyArns": []}
    assert all(r.operation == "create" and r.parent == exclusive[INLINE_EXCLUSIVE].parent for r in exclusive.values())
    inline = [r for r in plan.resources if r.type == "aws:iam/rolePolicy:RolePolicy" and r.inputs["role"] == "shop-api"]
    assert [r.inputs["name"] for r in inline] == [ROLE_POLICY_NAME] and role.operation == "import"
    # The plan's matrix: the role reads exactly what it read by name, nothing the removed policies gave.
    assert_access_is_as_is_minus_over_broad(run, plan, iam_principal)
    matrix = access_matrix(plan.resources, plan.stack)
    workload = next(w for w in run.config[f"{NS}:workloads"] if w.get("role_name") == "shop-api")
    paths = {s["name"]: s["path"] for s in run.config[f"{NS}:secrets"]}
    planned_access = {(e.secret, e.capability) for e in matrix.entries if e.principal == "iam-role:shop-api" and e.status == EFFECTIVE}
    assert planned_access == {(f"aws:{paths[n]}", READ) for n in workload["reads"]} | {(f"aws:{paths[n]}", WRITE) for n in workload.get("writes", ())}
    # What the removed policies gave (delete, rotate, resource policies: admin) is gone, and the report said so.
    as_is = {(e["secret"], e["capability"]) for e in run.json["access_as_is"] if e["principal"] == "iam-role:shop-api"}
    assert {("aws:shop/prod/db", ADMIN), ("aws:shop/prod/stripe", ADMIN)} <= as_is
    assert not {c for _, c in planned_access} & {ADMIN}
    assert any(item.startswith("admin aws:shop/prod/db") for items in run.json["removed"].values() for item in items)
    report = evaluate(plan.policy_resources(), settings_for("prod", ALL_RULES))
    flagged = [v for v in report.violations if v.resource_type in (INLINE_EXCLUSIVE, ATTACHED_EXCLUSIVE)]
    assert not flagged, flagged


def test_the_policy_pack_flags_a_broad_managed_policy_kept_by_an_exclusive_attachment():
    """The exclusive attachment attaches what it lists: an AWS managed policy there is held to SP-IAM-009 like any attachment."""
    from policy.rules.aws_iam import NO_BROAD_MANAGED_POLICY

    def attachments(*arns: str) -> dict:
        return {"type": ATTACHED_EXCLUSIVE, "name": "api-attached-policies", "urn": "urn:x", "props": {"roleName": "api", "policyArns": list(arns)}}

    assert NO_BROAD_MANAGED_POLICY.applies_to(attachments()) and NO_BROAD_MANAGED_POLICY.findings(attachments()) == []
    found = NO_BROAD_MANAGED_POLICY.findings(attachments("arn:aws:iam::aws:policy/SecretsManagerReadWrite"))
    assert [f.rule_id for f in found] == [NO_BROAD_MANAGED_POLICY.id]


def _vault_000(mount: str) -> IntentCheck:
    auth = f"{mount}-auth"
    return IntentCheck(
        "emr", mount=mount,
        principals={"api-gateway": frozenset({"k8s:emr-task/api-gateway", f"vault-role:{auth}/api-gateway"}),
                    "emr-service": frozenset({"k8s:default/emr-service", f"vault-role:{auth}/emr-service"}),
                    "External Secrets (SecretStore vault-backend, ExternalSecret jwt-signing-keys)": frozenset({
                        "k8s:emr-task/external-secrets-store", f"vault-role:{auth}/emr-prod-store-emr-task",
                        "eso:SecretStore/emr-task/vault-backend", "namespace:emr-task"})},
        differs={"emr-service": (
            frozenset({(f"vault:{mount}/database/postgres", READ)}), frozenset(),
            "the document's policy emr-service reads secret/data/database/postgres; the example gives it dynamic credentials "
            "instead, which discover cannot draft from a static KV grant: the read is kept, by name")},
        absent={"secrets operators (vault)": "the document names no operator; " + WRITERS_FILLED},
        extra={TEST_ROTATORS_VAULT: WRITERS_FILLED})


def _vault_004(mount: str) -> IntentCheck:
    return IntentCheck(
        "phagen", mount=mount,
        absent={"phagen-backend": "the AppRole role phagen holds phagen-policy, whose glob (phagen/*) reaches none of the document's "
                                  "secrets (db_password, api_keys/*): the estate has no reader of them (the report names the glob)",
                "phagen-rotation": "not in the document (the example's rotation worker): no grant in the estate"},
        extra={TEST_ROTATORS_VAULT: WRITERS_FILLED})


def _vault_001(mount: str) -> IntentCheck:
    role = frozenset({f"vault-role:{mount}-auth/vibebox"})
    rotated = frozenset((f"vault:{mount}/vibebox/{name}", WRITE) for name in ("encryption-key", "github-client-secret", "api-key"))
    return IntentCheck(
        "vibebox", mount=mount,
        # One AppRole role, `vibebox`, serves the backend and scripts/rotate-secrets.sh in the estate: discover cannot split
        # it in two, so both consumers are that role, which keeps the writes it has by name (the hand-rotated secrets).
        principals={"backend": role, "rotate-secrets": role},
        differs={"backend": (rotated, frozenset(), "the same AppRole role runs rotate-secrets.sh, which writes them")},
        absent={"External Secrets (secretstore-aws.yaml, -gcp.yaml, -azure.yaml, -vault.yaml)":
                "the store vault-backend signs in with a static token and no ExternalSecret uses it: what it reads cannot be told "
                "from the estate (the report names the store over-broad), so the draft gives it nothing"})


VAULT_INTENT = {"000": _vault_000, "001": _vault_001, "004": _vault_004}
