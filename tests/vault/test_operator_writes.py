"""An operator's Vault policy, as the EMR plan renders it, on a real OpenBao KV v2 mount with cas_required: the
operator writes a hand-rotated secret by check-and-set, cannot write without it, and reads no value (#15 item 2)."""

from __future__ import annotations

import hvac
import pytest

from offline.run import plan_stack
from tests.conftest import CANARY

EMR = "examples/emr/Pulumi.emr-prod.yaml"
POLICY = "vault:index/policy:Policy"


@pytest.fixture(scope="module")
def operator_policy() -> str:
    plan = plan_stack(EMR)
    (policy,) = [r.inputs["policy"] for r in plan.resources if r.type == POLICY and r.inputs["name"] == "emr-prod-operator-secrets-operators"]
    return policy


@pytest.mark.drill
def test_operator_writes_by_check_and_set_and_reads_no_value(openbao, openbao_prefix, operator_policy):
    root = openbao.client()
    root.sys.enable_secrets_engine(backend_type="kv", path=openbao_prefix, options={"version": "2"})
    root.secrets.kv.v2.configure(cas_required=True, mount_point=openbao_prefix)
    # The plan's policy names the `secret` mount; the same paths under this test's own mount.
    policy = operator_policy.replace('path "secret/', f'path "{openbao_prefix}/')
    root.sys.create_or_update_policy(name=openbao_prefix, policy=policy)
    token = root.auth.token.create(policies=[openbao_prefix], ttl="10m")["auth"]["client_token"]
    operator = openbao.client_with_token(token)
    kv = operator.secrets.kv.v2

    path = "emr/epic"  # EMR keeps its document's path: secret/data/emr/epic
    kv.create_or_update_secret(path=path, secret={"client_secret": CANARY}, cas=0, mount_point=openbao_prefix)
    version = kv.read_secret_metadata(path=path, mount_point=openbao_prefix)["data"]["current_version"]
    assert version == 1
    kv.create_or_update_secret(path=path, secret={"client_secret": CANARY + "-2"}, cas=version, mount_point=openbao_prefix)
    with pytest.raises(hvac.exceptions.InvalidRequest):  # cas_required: a blind write is refused by the mount
        kv.create_or_update_secret(path=path, secret={"client_secret": "x"}, mount_point=openbao_prefix)
    with pytest.raises(hvac.exceptions.Forbidden):  # writing is not reading
        kv.read_secret_version(path=path, mount_point=openbao_prefix, raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden):  # only the declared secrets
        kv.create_or_update_secret(path="emr/other", secret={"x": "y"}, cas=0, mount_point=openbao_prefix)
    with pytest.raises(hvac.exceptions.Forbidden):  # no version destruction
        kv.destroy_secret_versions(path=path, versions=[1], mount_point=openbao_prefix)
    assert root.secrets.kv.v2.read_secret_version(path=path, mount_point=openbao_prefix, raise_on_deleted_version=True)["data"]["data"] == {
        "client_secret": CANARY + "-2"}
