"""The Vault audit device the PhaGen plan declares (#15 item 4), applied to a real OpenBao server: a workload's read
of a secret is recorded, attributed to its own policy, with the value HMAC'd; the value never reaches the log file.

OpenBao 2.3+ refuses to enable audit devices through the API unless the server's configuration sets
`unsafe_allow_api_audit_creation = true` (README: "Audit"), so this module runs its own server with that setting
instead of the session's shared one."""

from __future__ import annotations

import json
import shutil

import pytest

from components.config import parse_stack_spec
from offline.run import plan_stack
from tests.conftest import CANARY, stack_namespace
from tests.fixtures import workdir
from tests.fixtures.openbao import OpenBao
from tests.vault.applier import Overrides, apply_plan, reset

PHAGEN = "examples/phagen/Pulumi.phagen-prod.yaml"


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    directory = workdir("openbao-audit")
    server = OpenBao(directory, config="unsafe_allow_api_audit_creation = true\n")
    try:
        server.start()
        log = tmp_path_factory.mktemp("audit") / "audit.log"
        plan = plan_stack(PHAGEN)
        reset(server.client())  # the dev server pre-mounts secret/
        applied = apply_plan(plan, server.client(), Overrides(audit_file_path=str(log)))
        yield server, log, applied
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)


def _entries(log) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def test_the_planned_device_is_enabled_as_declared(audited):
    server, log, applied = audited
    assert applied[0].startswith("vault:index/audit:Audit")  # first, so every later request is recorded
    devices = server.client().sys.list_enabled_audit_devices()["data"]
    assert set(devices) == {"file/"}
    assert devices["file/"]["type"] == "file"
    assert devices["file/"]["options"] == {"file_path": str(log), "log_raw": "false", "hmac_accessor": "true"}


@pytest.mark.drill
def test_a_workloads_read_is_recorded_hmacd_and_the_value_never_reaches_the_log(audited):
    server, log, _ = audited
    spec = parse_stack_spec(stack_namespace(PHAGEN), PHAGEN)
    backend = next(w for w in spec.workloads if w.name == "phagen-backend")
    name = next(n for n in spec.reads(backend, "vault"))
    secret = next(s for s in spec.secrets if s.name == name)
    mount, path = spec.kv_mount(secret), spec.secret_path(secret)
    root = server.client()
    root.secrets.kv.v2.create_or_update_secret(path, secret={"value": CANARY}, cas=0, mount_point=mount)

    role = spec.vault_role_name(backend)
    role_id = root.read(f"auth/approle/role/{role}/role-id")["data"]["role_id"]
    secret_id = root.write(f"auth/approle/role/{role}/secret-id")["data"]["secret_id"]
    workload = server.client_with_token(None)
    workload.auth.approle.login(role_id, secret_id)
    read = workload.secrets.kv.v2.read_secret_version(path, mount_point=mount, raise_on_deleted_version=True)
    assert read["data"]["data"]["value"] == CANARY  # the workload really read it

    text = log.read_text()
    assert CANARY not in text and secret_id not in text and workload.token not in text
    responses = [e for e in _entries(log) if e["type"] == "response" and e["request"]["path"] == f"{mount}/data/{path}"
                 and e["request"]["operation"] == "read" and spec.vault_policy_name(backend) in (e.get("auth") or {}).get("policies", [])]
    (entry,) = responses
    logged = entry["response"]["data"]["data"]["value"]
    assert logged.startswith("hmac-sha256:")
    # The auditor proves which value was read without the log holding it: the device's own HMAC of the canary.
    assert root.sys.calculate_hash("file", CANARY)["data"]["hash"] == logged
    assert entry["auth"]["client_token"].startswith("hmac-sha256:") and entry["auth"]["accessor"].startswith("hmac-sha256:")
