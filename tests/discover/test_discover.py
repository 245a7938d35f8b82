"""Discovery against real local servers: moto (AWS API), OpenBao (Vault API) and the seed documents' manifests.

Each seed estate is built by replaying its document's commands (tests/discover/seeds.py) with the canary
as every secret value; discovery must draft the document's secrets and consumers under their existing
names, name the over-broad grants, and never let the canary out (stdout, stderr, draft, report, JSON).
"""

from __future__ import annotations

import json
import secrets as random
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from components.spec import ConfigError, KeySpec, KubernetesAuthSpec, SecretSpec, WorkloadSpec, parse_stack_spec
from offline.discover.__main__ import main
from tests.conftest import CANARY
from tests.vault.kubernetes_api import FakeKubernetesApi
from tests.discover import seeds
from tests.fixtures import LOOPBACK, free_port

NS = "secrets-platform"


class Run:
    def __init__(self, tmp_path: Path, capsys, argv: list[str]):
        self.draft_path, self.report_path, self.json_path = tmp_path / "Pulumi.draft.yaml", tmp_path / "report.md", tmp_path / "report.json"
        self.status = main([*argv, "--out", str(self.draft_path), "--report", str(self.report_path), "--json", str(self.json_path)])
        captured = capsys.readouterr()
        self.stdout, self.stderr = captured.out, captured.err
        written = [p.read_text() for p in (self.draft_path, self.report_path, self.json_path) if p.exists()]
        self.everything = "\n".join([self.stdout, self.stderr, *written])
        if self.status == 0:
            self.config = yaml.safe_load(self.draft_path.read_text())["config"]
            self.report = self.report_path.read_text()
            self.json = json.loads(self.json_path.read_text())

    def secrets(self) -> dict[str, dict]:
        return {s["path"]: s for s in self.config[f"{NS}:secrets"]}

    def workloads(self) -> dict[str, dict]:
        return {w["name"]: w for w in self.config[f"{NS}:workloads"]}

    def reads(self, workload: str) -> set[str]:
        names = {s["name"]: s["path"] for s in self.config[f"{NS}:secrets"]}
        return {names[n] for n in self.workloads()[workload]["reads"]}


def discover(tmp_path, capsys, *argv: str) -> Run:
    run = Run(tmp_path, capsys, list(argv))
    assert CANARY not in run.everything, "a secret value reached the output"
    return run


def ok(run: Run) -> Run:
    assert run.status == 0, run.stderr
    assert run.stderr == ""
    return run


def assert_spec_keys(run: Run) -> None:
    """Every key the draft writes is a spec key (offline/discover/SPEC_KEYS.md lists the adoption ones)."""
    for section, model in (("keys", KeySpec), ("secrets", SecretSpec), ("workloads", WorkloadSpec)):
        allowed = set(model.model_fields)
        for entry in run.config.get(f"{NS}:{section}", []):
            assert set(entry) <= allowed, (section, set(entry) - allowed)


@contextmanager
def recorded_aws_calls(monkeypatch) -> Iterator[list[str]]:
    """Every AWS API operation boto3 sends while the block runs (the seeding is done before)."""
    from botocore.client import BaseClient

    calls: list[str] = []
    send = BaseClient._make_api_call

    def record(self, operation, params):
        calls.append(operation)
        return send(self, operation, params)

    with monkeypatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", record)
        yield calls


@contextmanager
def recorded_vault_calls(monkeypatch) -> Iterator[list[tuple[str, str]]]:
    """Every Vault HTTP request hvac sends while the block runs: (method, path)."""
    from hvac.adapters import RawAdapter

    calls: list[tuple[str, str]] = []
    send = RawAdapter.request

    def record(self, method, url, *args, **kwargs):
        calls.append((method.upper(), url))
        return send(self, method, url, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(RawAdapter, "request", record)
        yield calls


# Describe and list only: what discovery may ask AWS (no GetSecretValue, no write).
AWS_READ_ONLY = {"ListSecrets", "DescribeSecret", "GetResourcePolicy", "DescribeKey", "ListAliases", "GetKeyPolicy", "GetKeyRotationStatus", "ListRoles",
                 "ListRolePolicies", "GetRolePolicy", "ListAttachedRolePolicies", "GetPolicy", "GetPolicyVersion"}


def spec_problems(run: Run) -> set[tuple]:
    """Where the spec refuses the draft as written: the key paths (a person fills them in)."""
    raw = {key.removeprefix(f"{NS}:"): value for key, value in run.config.items()}
    try:
        parse_stack_spec(raw, str(run.draft_path))
    except ConfigError as error:
        return {problem.location for problem in error.problems}
    return set()


# --- AWS -----------------------------------------------------------------------------------------

def aws(tmp_path, capsys, api, prefix: str, stack: str, *extra: str) -> Run:
    return discover(tmp_path, capsys, "aws", "--region", seeds.REGION, "--prefix", prefix, "--stack", stack, *api.args(), *extra)


def test_seed_000_aws_keeps_names_adopts_and_names_the_key_wildcard(tmp_path, capsys, aws_api, monkeypatch):
    seeds.aws_000(aws_api.client)
    # A role of the same account whose glob reaches no secret under the prefix: not part of this estate.
    aws_api.client("iam").create_role(RoleName="billing-export", AssumeRolePolicyDocument=json.dumps(seeds._service("ec2.amazonaws.com")))
    aws_api.client("iam").put_role_policy(RoleName="billing-export", PolicyName="billing", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                                "Resource": f"arn:aws:secretsmanager:us-east-1:{seeds.ACCOUNT}:secret:billing/*"}]}))
    with recorded_aws_calls(monkeypatch) as calls:
        run = ok(aws(tmp_path, capsys, aws_api, "prod/", "emr-prod"))
    assert "DescribeSecret" in calls and set(calls) <= AWS_READ_ONLY, set(calls) - AWS_READ_ONLY
    found = run.secrets()
    assert set(found) == {"prod/database/postgres", "prod/auth/jwt", "prod/emr/epic"}
    arns = {s["Name"]: s["ARN"] for s in aws_api.client("secretsmanager").list_secrets()["SecretList"]}
    assert {path: s["adopt"] for path, s in found.items()} == arns
    key = aws_api.client("kms").describe_key(KeyId="alias/emr-task-secrets")["KeyMetadata"]["KeyId"]
    assert run.config[f"{NS}:keys"] == [{"name": "emr-task-secrets", "alias": "alias/emr-task-secrets", "adopt": key}]
    assert all(s["key"] == "emr-task-secrets" for s in found.values())
    assert found["prod/database/postgres"]["rotation"] == {"kind": "generic", "days": 90}
    assert run.reads("emr-service") == set(arns)
    assert set(run.workloads()) == {"emr-service"} and "billing" not in json.dumps(run.json["over_broad"])
    assert run.workloads()["emr-service"]["adopt"] == {"role": "emr-service"}
    broad = {b["where"]: b for b in run.json["over_broad"]}
    kms = broad["inline policy emr-secrets-access of role emr-service, statement 1"]
    assert kms["grant"] == "kms:Decrypt on arn:aws:kms:us-east-1:*:key/*" and kms["reaches"] == ["KMS key alias/emr-task-secrets"]
    sm = broad["inline policy emr-secrets-access of role emr-service, statement 0"]
    assert set(sm["reaches"]) == set(arns) and any("names any account" in w for w in sm["why"])
    assert "kms:Decrypt on arn:aws:kms:us-east-1:*:key/*" in run.report
    assert run.json["removed"] == {"iam-role:emr-service (emr-service)": ["read aws:prod/* (unknown)"]}
    assert any(f["rule"] == "SP-IAM-006" for f in run.json["policy_findings"])
    assert_spec_keys(run)
    # The prefix `{env}/` and the adoption keys are the spec's; left for a person: the role is not assumed by a
    # Kubernetes ServiceAccount in the document (the report's "To review"), so no cluster, namespace or account.
    assert run.config[f"{NS}:prefix"] == "{env}/"
    # Two secrets are rotated by hand and no grant lets anyone write them: the writers are a person's to name.
    hand_rotated = {("secrets", i, "rotation", "kind") for i, s in enumerate(run.config[f"{NS}:secrets"]) if s["rotation"]["kind"] == "manual"}
    assert hand_rotated == {("secrets", 0, "rotation", "kind"), ("secrets", 2, "rotation", "kind")}
    assert {f"secrets[{i}].rotation.kind" for _, i, _, _ in hand_rotated} <= {r.split(":", 1)[0] for r in run.json["review"]}
    assert spec_problems(run) == {("cluster",), ("workloads", 0, "namespace"), ("workloads", 0, "service_account"), *hand_rotated}
    # prod: the draft creates an alert topic, and the report says to name the existing one instead if there is one.
    assert run.config[f"{NS}:alerts"] == {} and any(r.startswith("alerts:") and "topic_arn" in r for r in run.json["review"])
    # prod: the draft creates a trail (audit, #15), and the report says to record the organisation trail instead if there is one.
    assert run.config[f"{NS}:aws"]["audit"] == {"trail": {}}
    assert any(r.startswith("aws.audit:") and "organization_trail_arn" in r for r in run.json["review"])


def test_seed_001_aws_names_write_and_delete_on_the_prefix(tmp_path, capsys, aws_api):
    seeds.aws_001(aws_api.client)
    run = ok(aws(tmp_path, capsys, aws_api, "vibebox/", "vibebox-prod"))
    assert set(run.secrets()) == {"vibebox/database-password", "vibebox/jwt-secret"}
    assert run.reads("vibebox-backend") == {"vibebox/database-password", "vibebox/jwt-secret"}
    statement = next(b for b in run.json["over_broad"] if b["where"].endswith("statement 0"))
    assert "secretsmanager:DeleteSecret" in statement["why"][0] and set(statement["reaches"]) == set(run.secrets())
    listing = next(b for b in run.json["over_broad"] if b["where"].endswith("statement 1"))
    assert listing["grant"] == "secretsmanager:ListSecrets on *"
    removed = run.json["removed"]["iam-role:vibebox-backend (vibebox-backend)"]
    assert {"admin aws:vibebox/database-password", "admin aws:vibebox/jwt-secret"} <= set(removed)
    # Both are rotated by hand and the backend is the only writer today: it keeps writing them by name (a
    # hand-rotated secret needs a writer), so those writes are drafted, not removed; the administration is.
    assert run.workloads()["vibebox-backend"]["writes"] == ["database-password", "jwt-secret"]
    assert not {"write aws:vibebox/database-password", "write aws:vibebox/jwt-secret"} & set(removed)
    # Left for a person: only the consumer's cluster identity (as in seed 000), no rotation writer.
    assert spec_problems(run) == {("cluster",), ("workloads", 0, "namespace"), ("workloads", 0, "service_account")}
    assert_spec_keys(run)


def test_seed_002_aws_with_manifests_drafts_the_consumers_and_names_the_cluster_store(tmp_path, capsys, aws_api):
    seeds.aws_002(aws_api.client)
    manifests = seeds.manifests("002", tmp_path / "k8s")
    run = ok(aws(tmp_path, capsys, aws_api, "autolytiq/prod/", "autolytiq-prod", "--manifests", str(manifests)))
    assert set(run.secrets()) == {f"autolytiq/prod/{n}" for n in seeds.AUTOLYTIQ}
    assert run.config[f"{NS}:prefix"] == "autolytiq/{env}/"
    workloads = run.workloads()
    controller = workloads["autolytiq-prod-external-secrets"]
    assert (controller["namespace"], controller["service_account"], controller["reads"]) == ("external-secrets", "external-secrets", [])
    assert controller["adopt"] == {"role": "autolytiq-prod-external-secrets", "service_account": "external-secrets/external-secrets"}
    assert run.config[f"{NS}:kubernetes"]["eso"] == {"install": False, "namespace": "external-secrets", "workload": "autolytiq-prod-external-secrets"}
    consumer = workloads["autolytiq"]
    assert run.reads("autolytiq") == {"autolytiq/prod/jwt", "autolytiq/prod/database"}
    jwt = next(e for e in consumer["external_secrets"] if e["name"] == "jwt-secrets")
    assert jwt == {"name": "jwt-secrets", "target": "jwt-secrets", "refresh_interval": "1h",
                   "store": {"kind": "ClusterSecretStore", "name": "aws-secrets-manager", "adopt": "aws-secrets-manager"},
                   "data": [{"secret_key": "JWT_SECRET", "secret": "jwt", "property": "secret"}], "adopt": "autolytiq/jwt-secrets"}
    assert run.secrets()["autolytiq/prod/jwt"]["properties"] == ["secret"]
    store = next(b for b in run.json["over_broad"] if b["holder"] == "any namespace")
    assert store["where"] == "ClusterSecretStore aws-secrets-manager (no spec.conditions)" and len(store["reaches"]) == 8
    # The exact-ARN policy is not over-broad; the namespaces that ExternalSecrets do not use lose their reach.
    assert not any(b["holder"].startswith("IAM role") for b in run.json["over_broad"])
    assert "namespace:* (any namespace)" in run.json["removed"]
    assert any(f["rule"] == "SP-ESO-001" for f in run.json["policy_findings"])
    assert_spec_keys(run)
    # IRSA trust gives the cluster; only the consumer's ServiceAccount is not in the estate (and is listed to review).
    assert run.config[f"{NS}:cluster"]["oidc_provider_arn"] == f"arn:aws:iam::{seeds.ACCOUNT}:oidc-provider/{seeds.OIDC}"
    # The database secret declares one property (`url`): its generic rotation names it. The others are rotated by
    # hand and only read today (the controller has no write): their writers are listed to review.
    assert run.secrets()["autolytiq/prod/database"]["rotation"]["property"] == "url"
    hand_rotated = {("secrets", i, "rotation", "kind") for i, s in enumerate(run.config[f"{NS}:secrets"]) if s["rotation"]["kind"] == "manual"}
    assert len(hand_rotated) == 7
    assert {f"secrets[{i}].rotation.kind" for _, i, _, _ in hand_rotated} <= {r.split(":", 1)[0] for r in run.json["review"]}
    assert spec_problems(run) == {("workloads", 1, "service_account"), *hand_rotated}
    assert "workload autolytiq: the ServiceAccount its pods run as in autolytiq is not in the estate; set service_account" in run.json["review"]
    assert run.secrets()["autolytiq/prod/redis"]["rotation"] == {"kind": "manual", "days": 90}


def test_seed_003_aws_reports_what_the_draft_adds_for_a_failing_sync(tmp_path, capsys, aws_api):
    seeds.aws_003(aws_api.client)
    manifests = seeds.manifests("003", tmp_path / "k8s")
    run = ok(aws(tmp_path, capsys, aws_api, "eonpro/prod/", "eonpro-prod", "--manifests", str(manifests)))
    assert run.reads("eonpro") == {"eonpro/prod/database", "eonpro/prod/auth", "eonpro/prod/encryption"}
    # The ESO role reads only the database secret: the other two keys of eonpro-secrets cannot sync today.
    assert {a["secret"] for a in run.json["added"]} == {"aws:eonpro/prod/auth", "aws:eonpro/prod/encryption"}
    # No kmsKeyId: the AWS managed key, shown as such; unclassified, so the pack asks for the class first.
    assert "| database | `eonpro/prod/database` |" in run.report and "| AWS managed key |" in run.report
    assert "SP-SM-006" in {f["rule"] for f in run.json["policy_findings"]}
    assert_spec_keys(run)


def test_seed_004_aws_names_put_and_update_on_the_prefix(tmp_path, capsys, aws_api):
    seeds.aws_004(aws_api.client)
    run = ok(aws(tmp_path, capsys, aws_api, "phagen/", "phagen-prod"))
    assert set(run.secrets()) == {"phagen/db_password"}
    assert run.config[f"{NS}:prefix"] == "phagen/{env}/"
    assert run.secrets()["phagen/db_password"]["name"] == "db-password"
    assert run.reads("phagen-app") == {"phagen/db_password"}
    (statement,) = run.json["over_broad"]
    assert "secretsmanager:PutSecretValue" in statement["why"][0] and statement["reaches"] == ["phagen/db_password"]
    # The hand-rotated secret's only writer today keeps writing it by name; the write on the glob is removed.
    assert run.workloads()["phagen-app"]["writes"] == ["db-password"]
    removed = run.json["removed"]["iam-role:phagen-app (phagen-app)"]
    assert "write aws:phagen/* (unknown)" in removed and "write aws:phagen/db_password" not in removed
    # The summary table prints ARNs as text: rich would draw `:secret:` as an emoji unless told not to (regression).
    assert "Over-broad grants" in run.stdout and "㊙" not in run.stdout and ":secret:" in run.stdout
    assert_spec_keys(run)


def test_replicas_tags_and_classification_come_from_the_secret(tmp_path, capsys, aws_api):
    sm = aws_api.client("secretsmanager")
    sm.create_secret(Name="shop/prod/card-key", SecretString=CANARY, Description="card tokenisation key",
                     AddReplicaRegions=[{"Region": "us-west-2"}],
                     Tags=[{"Key": "classification", "Value": "critical"}, {"Key": "owner", "Value": "payments"}, {"Key": "service", "Value": "checkout"}])
    # A resource policy letting another account read it: access as it is that no IAM role of the estate shows.
    sm.put_resource_policy(SecretId="shop/prod/card-key", ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:role/partner"}, "Action": "secretsmanager:GetSecretValue",
        "Resource": "*"}]}))
    run = ok(aws(tmp_path, capsys, aws_api, "shop/prod/", "shop-prod"))
    assert {(e["principal"], e["secret"], e["capability"]) for e in run.json["access_as_is"]} == {
        ("aws:arn:aws:iam::210987654321:role/partner", "aws:shop/prod/card-key", "read")}
    assert list(run.json["removed"]) == ["aws:arn:aws:iam::210987654321:role/partner (arn:aws:iam::210987654321:role/partner)"]
    (entry,) = run.config[f"{NS}:secrets"]
    assert entry["classification"] == "critical" and entry["replica_regions"] == ["us-west-2"]
    assert entry["description"] == "card tokenisation key" and entry["tags"] == {"service": "checkout"}
    assert run.config[f"{NS}:aws"]["replica_regions"] == ["us-west-2"]
    assert run.config[f"{NS}:tags"]["owner"] == "payments"
    assert run.config[f"{NS}:workloads"] == []  # nobody is granted it
    # critical: rotated by hand at its class's cadence, and nobody in the estate may write it (a person names the writer).
    assert entry["rotation"]["kind"] == "manual"
    assert spec_problems(run) == {("secrets", 0, "rotation", "kind")}
    assert any(r.startswith("secrets[0].rotation.kind:") for r in run.json["review"])
    assert not any("classification not stated" in r for r in run.json["review"])


def test_a_hand_rotated_secrets_writer_by_resource_policy_is_drafted_as_an_operator(tmp_path, capsys, aws_api):
    sm = aws_api.client("secretsmanager")
    sm.create_secret(Name="shop/prod/card-key", SecretString=CANARY, Tags=[{"Key": "classification", "Value": "critical"}])
    # People rotate it by hand through their SSO role, which the secret's resource policy lets write (not read).
    admins = f"arn:aws:iam::{seeds.ACCOUNT}:role/AWSReservedSSO_SecretsAdmin_0123456789abcdef"
    sm.put_resource_policy(SecretId="shop/prod/card-key", ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": admins}, "Action": "secretsmanager:PutSecretValue", "Resource": "*"}]}))
    run = ok(aws(tmp_path, capsys, aws_api, "shop/prod/", "shop-prod"))
    (entry,) = run.config[f"{NS}:secrets"]
    assert entry["rotation"]["kind"] == "manual"
    assert run.config[f"{NS}:operators"] == [{"name": "awsreservedsso-secretsadmin-0123456789ab", "aws_role_arn": admins, "writes": [entry["name"]]}]
    assert not run.json["removed"]  # the write it has today is the one the draft gives
    assert not any(r.startswith("secrets[0].rotation.kind") for r in run.json["review"])
    assert spec_problems(run) == set()


def test_aws_nothing_under_the_prefix_is_one_line_and_exit_2(tmp_path, capsys, aws_api):
    seeds.aws_000(aws_api.client)
    run = aws(tmp_path, capsys, aws_api, "staging/", "emr-staging")
    assert run.status == 2
    assert run.stderr == "discover aws: nothing under the prefix 'staging/' in us-east-1: no Secrets Manager secret's name starts with it\n"
    assert not run.draft_path.exists()


def test_aws_unreachable_endpoint_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    url = f"http://{LOOPBACK}:{free_port()}"
    run = discover(tmp_path, capsys, "aws", "--region", "us-east-1", "--prefix", "prod/", "--stack", "emr-prod", "--endpoint-url", url)
    assert run.status == 2
    assert run.stderr == f"discover aws: cannot reach the AWS API at {url} (ListSecrets)\n"


def test_aws_refused_permission_is_one_line_and_exit_2(tmp_path, capsys, aws_in_process):
    """A principal without secretsmanager:ListSecrets: moto enforces IAM once auth is switched on."""
    from moto.core import set_initial_no_auth_action_count

    iam = aws_in_process.client("iam")
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="iam-only", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    import os

    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = key["AccessKeyId"], key["SecretAccessKey"]
    run = set_initial_no_auth_action_count(0)(lambda: discover(tmp_path, capsys, "aws", "--region", "us-east-1", "--prefix", "prod/",
                                                                "--stack", "emr-prod"))()
    assert run.status == 2
    assert run.stderr.startswith("discover aws: no permission: ListSecrets was refused (")
    assert run.stderr.count("\n") == 1


# --- Vault (OpenBao) -------------------------------------------------------------------------------

@pytest.fixture
def vault_estate(openbao, openbao_prefix, monkeypatch):
    token_env = f"DISCOVER_TOKEN_{random.token_hex(3).upper()}"
    monkeypatch.setenv(token_env, openbao.root_token)
    client, made = openbao.client(), []

    def build(seed: str) -> tuple[str, str]:
        mount, auth = openbao_prefix, f"{openbao_prefix}-auth"
        seeds.vault_seed(client, seed, mount, auth)
        made.append((seed, mount, auth))
        return mount, token_env

    yield build
    for seed, mount, auth in made:
        seeds.vault_cleanup(client, seed, mount, auth)


def vault(tmp_path, capsys, openbao, mount: str, token_env: str, stack: str, *extra: str) -> Run:
    return discover(tmp_path, capsys, "vault", "--address", openbao.address, "--mount", mount, "--token-env", token_env, "--stack", stack, *extra)


def test_seed_000_vault_with_manifests_keeps_roles_policies_and_the_external_secret(tmp_path, capsys, openbao, vault_estate, monkeypatch):
    mount, token_env = vault_estate("000")
    manifests = seeds.manifests("000", tmp_path / "k8s", mount, f"{mount}-auth")
    with recorded_vault_calls(monkeypatch) as calls:
        run = ok(vault(tmp_path, capsys, openbao, mount, token_env, "emr-prod", "--manifests", str(manifests)))
    # Lists and reads of configuration only: no data read, no secret id, no write.
    assert {method for method, _ in calls} <= {"GET", "LIST"}
    assert ("LIST", f"/v1/{mount}/metadata/emr/") in calls
    assert not [url for _, url in calls if f"/{mount}/data/" in url or "secret-id" in url or "role-id" in url]
    found = run.secrets()
    assert set(found) == {"database/postgres", "auth/jwt", "emr/epic", "emr/cerner"}
    assert all(s["backend"] == "vault" and s["mount"] == mount and s["adopt"] == f"{mount}/data/{p}" for p, s in found.items())
    workloads = run.workloads()
    gateway = workloads["api-gateway"]
    assert (gateway["namespace"], gateway["service_account"], gateway["vault_role_name"], gateway["vault_policy_name"]) == (
        "emr-task", "api-gateway", "api-gateway", "api-gateway")
    assert gateway["adopt"] == {"vault_role": f"auth/{mount}-auth/role/api-gateway", "vault_policy": "api-gateway"}
    assert gateway["delivery"] == "both"
    (es,) = gateway["external_secrets"]
    assert es["name"] == "jwt-signing-keys" and es["target"] == "jwt-secrets"
    assert es["store"] == {"kind": "SecretStore", "name": "vault-backend", "adopt": "emr-task/vault-backend"}
    assert es["data"] == [{"secret_key": "JWT_SECRET", "secret": "auth-jwt", "property": "secret"},
                          {"secret_key": "JWT_REFRESH_SECRET", "secret": "auth-jwt", "property": "refresh_secret"}]
    assert run.reads("api-gateway") == {"auth/jwt"}
    assert run.reads("emr-service") == {"emr/epic", "emr/cerner", "database/postgres"}
    assert workloads["emr-service"]["namespace"] == "default"
    assert run.config[f"{NS}:prefix"] == "emr/{env}/"  # from the stack name: Vault paths have no discovery prefix
    assert run.config[f"{NS}:vault"]["kubernetes_auth"] == {"mount": f"{mount}-auth", "host": "https://kubernetes.default.svc:443", "adopt": f"{mount}-auth"}
    assert run.config[f"{NS}:vault"]["kv_mounts"] == [{"path": mount, "adopt": mount}]
    glob = next(b for b in run.json["over_broad"] if b["where"] == f'Vault policy emr-service, path "{mount}/data/emr/*"')
    assert set(glob["reaches"]) == {f"{mount}/emr/epic", f"{mount}/emr/cerner"}
    assert glob["holder"] == f"Vault role auth/{mount}-auth/role/emr-service"
    assert f"read vault:{mount}/emr/*" in run.json["removed"][f"vault-role:{mount}-auth/emr-service (emr-service)"]
    assert_spec_keys(run)


@pytest.mark.parametrize("reviewer", [True, False])
def test_a_vault_outside_the_cluster_is_drafted_external_with_its_ca(tmp_path, capsys, openbao, vault_estate, reviewer):
    """The seed's auth config, moved out of the cluster: the API server by its outside address, the cluster's CA, and
    a token reviewer JWT (never readable back; the canary proves it reaches no output) or none (client JWT mode)."""
    mount, token_env = vault_estate("000")
    ca = FakeKubernetesApi().ca_pem()
    config = {"kubernetes_host": "https://api.emr.example.com:6443", "kubernetes_ca_cert": ca, "disable_local_ca_jwt": True}
    openbao.client().write(f"auth/{mount}-auth/config", **config, **({"token_reviewer_jwt": f"eyJ.{CANARY}.sig"} if reviewer else {}))
    run = ok(vault(tmp_path, capsys, openbao, mount, token_env, "emr-prod"))
    expected = {"mount": f"{mount}-auth", "host": "https://api.emr.example.com:6443", "vault_runs": "external", "ca_cert": ca,
                "adopt": f"{mount}-auth"}
    drafted = run.config[f"{NS}:vault"]["kubernetes_auth"]
    assert drafted == (expected if reviewer else {**expected, "reviewer": "client"})
    KubernetesAuthSpec.model_validate(drafted)  # the spec takes it as drafted: an external Vault with its CA
    assert any("token reviewer JWT, which cannot be read back" in item for item in run.json["review"]) == reviewer
    assert_spec_keys(run)


def test_seed_001_vault_approle_keeps_its_ttls_and_names_write_and_delete(tmp_path, capsys, openbao, vault_estate):
    mount, token_env = vault_estate("001")
    manifests = seeds.manifests("001", tmp_path / "k8s", mount)
    run = ok(vault(tmp_path, capsys, openbao, mount, token_env, "vibebox-prod", "--manifests", str(manifests)))
    vibebox = run.workloads()["vibebox"]
    assert vibebox["vault_login"] == "approle"
    assert vibebox["approle"] == {"secret_id_ttl": "1d", "token_ttl": "1h", "token_max_ttl": "4h"}
    assert run.reads("vibebox") == {"vibebox/encryption-key", "vibebox/github-client-secret", "vibebox/api-key"}
    data = next(b for b in run.json["over_broad"] if b["where"].endswith(f'"{mount}/data/vibebox/*"'))
    assert data["why"][0] == "beyond reading: create, delete, update"
    # The static-token store: any namespace may use it, and what it reads cannot be told from the estate.
    store = next(b for b in run.json["over_broad"] if b["holder"] == "any namespace")
    assert store["where"] == "ClusterSecretStore vault-backend (no spec.conditions)"
    assert {"SP-ESO-001", "SP-ESO-002"} <= {f["rule"] for f in run.json["policy_findings"]}
    assert "read ? (unknown)" in run.json["removed"]["namespace:* (any namespace)"]
    assert_spec_keys(run)


def test_seed_004_vault_names_full_crud_on_the_phagen_glob(tmp_path, capsys, openbao, vault_estate):
    mount, token_env = vault_estate("004")
    run = ok(vault(tmp_path, capsys, openbao, mount, token_env, "phagen-prod"))
    assert set(run.secrets()) == {"db_password", "api_keys/ncbi"}
    crud = next(b for b in run.json["over_broad"] if b["where"] == f'Vault policy phagen-policy, path "{mount}/data/phagen/*"')
    assert crud["grant"] == f"create, delete, list, read, update on {mount}/data/phagen/*"
    assert crud["holder"] == f"Vault role auth/{mount}-auth/role/phagen"
    assert crud["reaches"] == []  # the document writes its secrets outside phagen/: the glob reaches only future ones
    assert f"Vault policy phagen-policy" in run.report and "only secrets created later" in run.report
    assert_spec_keys(run)


def test_vault_refused_token_and_missing_token_are_one_line_and_exit_2(tmp_path, capsys, openbao, vault_estate, monkeypatch):
    mount, _ = vault_estate("004")
    monkeypatch.setenv("DISCOVER_BAD_TOKEN", "s.not-a-token")
    run = vault(tmp_path, capsys, openbao, mount, "DISCOVER_BAD_TOKEN", "phagen-prod")
    assert run.status == 2 and run.stderr.startswith("discover vault: no permission: Vault refused listing the secrets engines")
    monkeypatch.delenv("DISCOVER_NO_TOKEN", raising=False)
    run = vault(tmp_path, capsys, openbao, mount, "DISCOVER_NO_TOKEN", "phagen-prod")
    assert run.status == 2 and run.stderr == "discover vault: no Vault token: set the environment variable DISCOVER_NO_TOKEN (or name another with --token-env)\n"


def test_vault_unreachable_and_empty_mount_are_one_line_and_exit_2(tmp_path, capsys, openbao, openbao_prefix, monkeypatch):
    monkeypatch.setenv("DISCOVER_ROOT", openbao.root_token)
    address = f"http://{LOOPBACK}:{free_port()}"
    run = discover(tmp_path, capsys, "vault", "--address", address, "--token-env", "DISCOVER_ROOT", "--stack", "x-prod")
    assert run.status == 2 and run.stderr.startswith(f"discover vault: cannot reach Vault at {address}") and run.stderr.count("\n") == 1
    openbao.client().sys.enable_secrets_engine("kv", path=openbao_prefix, options={"version": "2"})
    try:
        run = vault(tmp_path, capsys, openbao, openbao_prefix, "DISCOVER_ROOT", "x-prod")
    finally:
        openbao.client().sys.disable_secrets_engine(openbao_prefix)
    assert run.status == 2 and run.stderr == f"discover vault: nothing under the Vault mount {openbao_prefix}/ at {openbao.address}: it holds no secret\n"


# --- Kubernetes manifests ---------------------------------------------------------------------------

def test_seed_003_manifests_alone_draft_the_external_secret_and_skip_the_secret(tmp_path, capsys):
    manifests = seeds.manifests("003", tmp_path / "k8s")
    run = ok(discover(tmp_path, capsys, "kubernetes", "--manifests", str(manifests), "--stack", "eonpro-prod"))
    found = run.secrets()
    assert set(found) == {"eonpro/prod/database", "eonpro/prod/auth", "eonpro/prod/encryption"}
    assert all("adopt" not in s for s in found.values())  # the backend was not read: nothing to import by yet
    assert found["eonpro/prod/database"]["properties"] == ["url"]
    (es,) = run.workloads()["eonpro"]["external_secrets"]
    assert es["target"] == "eonpro-app-secrets" and [d["secret_key"] for d in es["data"]] == ["DATABASE_URL", "JWT_SECRET", "ENCRYPTION_KEY"]
    assert any(b["where"] == "ClusterSecretStore aws-secrets-manager (no spec.conditions)" for b in run.json["over_broad"])
    assert_spec_keys(run)


def test_manifests_without_anything_to_discover_and_bad_yaml_are_one_line_and_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n")
    run = discover(tmp_path, capsys, "kubernetes", "--manifests", str(empty), "--stack", "x-prod")
    assert run.status == 2 and run.stderr.startswith("discover kubernetes: nothing found in") and run.stderr.count("\n") == 1
    (empty / "broken.yaml").write_text("kind: [unclosed\n")
    run = discover(tmp_path, capsys, "kubernetes", "--manifests", str(empty), "--stack", "x-prod")
    assert run.status == 2 and run.stderr == f"discover kubernetes: {empty / 'broken.yaml'}: not valid YAML (line 2)\n"


def test_environment_that_cannot_be_told_is_one_line_and_exit_2(tmp_path, capsys):
    run = discover(tmp_path, capsys, "kubernetes", "--manifests", str(tmp_path), "--stack", "emr")
    assert run.status == 2
    assert run.stderr == "discover kubernetes: cannot tell the environment from stack 'emr': pass --environment dev, staging or prod\n"


def test_python_m_offline_discover_is_the_same_command(tmp_path):
    """`python -m offline discover ...` hands its arguments to discovery (the README's form)."""
    import subprocess
    import sys

    from offline.run import PROJECT_DIR

    manifests = seeds.manifests("003", tmp_path / "k8s")
    out, report = tmp_path / "Pulumi.eonpro-prod.yaml", tmp_path / "report.md"
    run = subprocess.run([sys.executable, "-m", "offline", "discover", "kubernetes", "--manifests", str(manifests),
                          "--stack", "eonpro-prod", "--out", str(out), "--report", str(report)],
                         cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "eonpro/prod/database" in out.read_text() and report.read_text().strip()
    bad = subprocess.run([sys.executable, "-m", "offline", "discover", "kubernetes", "--manifests", str(tmp_path / "missing"),
                          "--stack", "eonpro-prod"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
