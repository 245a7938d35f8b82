"""Vault's Kubernetes auth from outside the cluster (#15): the spec requires the API's https URL and CA, the
plan holds a reviewer bound to system:auth-delegator whose token reaches Vault only as a secret, and nothing
of it is shown anywhere. The login itself is proven on OpenBao (tests/vault/test_openbao.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from components.config import ConfigError
from components.vault.backend import VaultBackend
from offline.mocks import REDACTED, CloudMocks
from offline.run import PROJECT_DIR
from tests.conftest import CANARY
from tests.fixtures.mocked import build, stack_spec
from tests.fixtures.refusal import refused
from tests.vault.kubernetes_api import FakeKubernetesApi

EMR = "examples/emr/Pulumi.emr-prod.yaml"
API = "https://A1B2C3D4.gr7.us-east-1.eks.amazonaws.com"
CA = FakeKubernetesApi().ca_pem()
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
SECRET = "kubernetes:core/v1:Secret"
CONFIG = "vault:kubernetes/authBackendConfig:AuthBackendConfig"
AUTH_DELEGATOR = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"}
REVIEWER_TOKEN = CloudMocks.service_account_token("kube-system", "vault-token-reviewer")


def external(**changes):
    def mutate(raw):
        raw["vault"]["kubernetes_auth"].update({"vault_runs": "external", "host": API, "ca_cert": CA, **changes})
        for key in [k for k, v in changes.items() if v is None]:
            del raw["vault"]["kubernetes_auth"][key]
    return mutate


def built(mutate):
    spec, config, secret_keys = stack_spec(EMR, mutate)
    config = {key: CANARY if key in secret_keys else value for key, value in config.items()}
    return spec, build(lambda parent: VaultBackend(spec, parent, "sp"), config, secret_keys, stack="emr-prod")


def problems(mutate) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        stack_spec(EMR, mutate)
    return caught.value.lines()


AT = f"{EMR}: secrets-platform:vault.kubernetes_auth"


# ----- the spec ------------------------------------------------------------------------------------


def test_external_needs_the_ca_and_an_address_vault_can_reach():
    lines = problems(external(ca_cert=None, host="https://kubernetes.default.svc:443"))
    assert lines == [
        f"{AT}.host: a Vault outside the cluster cannot resolve the in-cluster API name; give the API server's external https URL",
        f"{AT}.ca_cert: required when vault_runs is external: the PEM of the cluster's CA certificate, so Vault verifies the API server",
    ]
    assert any(line.startswith(f"{AT}.host: ") for line in problems(external(host="http://10.0.0.1:6443")))  # https only


def _key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _leaf_pem() -> str:
    api = FakeKubernetesApi()
    leaf = api._certificate("kube-apiserver", api.key.public_key(), ca=False)
    return leaf.public_bytes(serialization.Encoding.PEM).decode()


KEY = _key_pem()


@pytest.mark.parametrize("value, message", [
    (KEY, "must be the PEM of the cluster's CA certificate (-----BEGIN CERTIFICATE-----), public material only"),
    (f"-----BEGIN CERTIFICATE-----\n{CANARY}\n-----END CERTIFICATE-----\n", "is not a valid PEM certificate"),
    (_leaf_pem(), "is a leaf certificate (CA:FALSE); give the CA that signed the API server's certificate"),
])
def test_ca_cert_is_a_ca_certificate_and_never_echoed(value, message):
    lines = problems(external(ca_cert=value))
    assert len(lines) == 1 and lines[0].startswith(f"{AT}.ca_cert: ") and message in lines[0], lines
    assert CANARY not in lines[0] and KEY.splitlines()[1] not in lines[0] and "BEGIN PRIVATE" not in lines[0]


def test_reviewer_settings_belong_to_an_external_vault_and_the_server_account_to_an_in_cluster_one():
    def in_cluster_with_reviewer(raw):
        raw["vault"]["kubernetes_auth"]["reviewer"] = "client"
    assert problems(in_cluster_with_reviewer) == [
        f"{AT}.reviewer: only when vault_runs is external (in the cluster, Vault reviews with its own pod's token)"]
    assert problems(external(server_service_account={"namespace": "vault", "name": "vault"})) == [
        f"{AT}.server_service_account: only when vault_runs is in-cluster (an external Vault has no pod service account)"]


def test_a_bad_kubernetes_auth_exits_2_without_a_traceback(tmp_path):
    document = yaml.safe_load((PROJECT_DIR / EMR).read_text())
    document["config"]["secrets-platform:vault"]["kubernetes_auth"]["vault_runs"] = "external"
    stderr = refused(tmp_path / "Pulumi.emr-prod.yaml", document)
    assert "secrets-platform:vault.kubernetes_auth.ca_cert: required when vault_runs is external" in stderr


# ----- the components --------------------------------------------------------------------------------


def test_external_with_a_dedicated_token_reviewer():
    _, backend = built(external())
    (config,) = backend.of_type(CONFIG).values()
    assert config.inputs["kubernetesHost"] == API and config.inputs["kubernetesCaCert"] == CA
    assert config.inputs["disableLocalCaJwt"] is True
    assert config.inputs["tokenReviewerJwt"] == REDACTED  # a secret: never a recorded value
    (account,) = backend.of_type(SERVICE_ACCOUNT).values()
    assert account.inputs["metadata"]["namespace"] == "kube-system" and account.inputs["metadata"]["name"] == "vault-token-reviewer"
    assert account.inputs["automountServiceAccountToken"] is False  # no pod runs as the reviewer
    (token,) = backend.of_type(SECRET).values()
    assert token.inputs["type"] == "kubernetes.io/service-account-token"
    assert token.inputs["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "vault-token-reviewer"}
    assert token.outputs["data"] == REDACTED
    (binding,) = backend.of_type(BINDING).values()
    assert binding.inputs["metadata"]["name"] == "emr-prod-vault-kubernetes-auth-delegator"
    assert binding.inputs["roleRef"] == AUTH_DELEGATOR
    assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": "vault-token-reviewer", "namespace": "kube-system"}]
    for resource in (account, token, binding):  # prod: deleting them stops every login
        assert resource.protect and resource.retain_on_delete
    recorded = json.dumps([(r.inputs, r.outputs) for r in backend.resources], default=str)
    assert REVIEWER_TOKEN not in recorded and "bW9jay1zZXJ2aWNl" not in recorded  # nor its base64


def test_the_reviewer_jwt_is_the_secrets_token_decoded_and_stays_a_secret():
    import asyncio

    import pulumi

    from components.vault.cluster import AuthDelegation, AuthDelegationArgs

    args = AuthDelegationArgs("t-auth-delegator", {}, protect=False, reviewer=("kube-system", "vault-token-reviewer"))
    delegation = build(lambda parent: AuthDelegation("d", args, pulumi.ResourceOptions(parent=parent)))
    jwt = delegation.value.reviewer_jwt
    assert delegation.resolve(jwt) == REVIEWER_TOKEN  # what the token controller wrote, base64-decoded
    assert asyncio.get_event_loop().run_until_complete(jwt.is_secret())


def test_client_jwt_mode_binds_every_login_service_account_and_stores_no_token():
    spec, backend = built(external(reviewer="client"))
    (config,) = backend.of_type(CONFIG).values()
    assert "tokenReviewerJwt" not in config.inputs and config.inputs["disableLocalCaJwt"] is True
    assert not backend.of_type(SECRET) and not backend.of_type(SERVICE_ACCOUNT)
    (binding,) = backend.of_type(BINDING).values()
    logins = {(w.namespace, w.service_account) for w in spec.all_workloads if spec.vault_access(w) and w.vault_login == "kubernetes"}
    assert {(s["namespace"], s["name"]) for s in binding.inputs["subjects"]} == logins and len(logins) >= 3


def test_in_cluster_uses_vaults_own_token_and_binds_the_server_account_when_named():
    _, backend = built(None)
    (config,) = backend.of_type(CONFIG).values()
    assert config.inputs["disableLocalCaJwt"] is False and "tokenReviewerJwt" not in config.inputs
    assert not backend.of_type(BINDING)  # the Vault chart's server.authDelegator binds it

    def named(raw):
        raw["vault"]["kubernetes_auth"]["server_service_account"] = {"namespace": "vault", "name": "vault"}
    _, backend = built(named)
    (binding,) = backend.of_type(BINDING).values()
    assert binding.inputs["roleRef"] == AUTH_DELEGATOR
    assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": "vault", "namespace": "vault"}]


# ----- what people see ------------------------------------------------------------------------------


def test_plan_json_markdown_manifests_and_tree_never_show_the_reviewer_token(tmp_path):
    document = yaml.safe_load((PROJECT_DIR / EMR).read_text())
    document["config"]["secrets-platform:vault"]["kubernetes_auth"].update(vault_runs="external", host=API, ca_cert=CA)
    stack = tmp_path / "Pulumi.emr-prod.yaml"
    stack.write_text(yaml.safe_dump(document))
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "offline", "plan", str(stack), "--json", str(tmp_path / "plan.json"),
                             "--markdown", str(tmp_path / "plan.md"), "--manifests", str(out)],
                            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, env={**_env(), "COLUMNS": "400"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    shown = [result.stdout, result.stderr, (tmp_path / "plan.json").read_text(), (tmp_path / "plan.md").read_text(),
             *(p.read_text() for p in Path(out).rglob("*.yaml"))]
    for text in shown:
        assert REVIEWER_TOKEN not in text and "bW9jay1zZXJ2aWNl" not in text
    plan = json.loads((tmp_path / "plan.json").read_text())
    (config,) = [r for r in plan["resources"] if r["type"] == CONFIG]
    assert config["inputs"]["tokenReviewerJwt"] == REDACTED
    # The access matrix says what the binding and the token Secret are.
    notes = plan["access"]["notes"]
    assert ("ClusterRoleBinding emr-prod-vault-kubernetes-auth-delegator (ClusterRole system:auth-delegator): service account "
            "kube-system/vault-token-reviewer may create TokenReviews and SubjectAccessReviews cluster-wide") in " ".join(notes)
    assert any(n.startswith("Secret kube-system/vault-token-reviewer-token holds a long-lived token") for n in notes)
    assert plan["policy"]["violations"] == [] and plan["policy"]["blocking"] is False


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)
