"""The shared engine and the Postgres building blocks that need no database: staging checks, logging,
the password alphabet, TLS policy, the SCRAM verifier."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import string
import threading

import pytest
import scramp

from rotation import postgres as pg
from rotation import steps
from rotation.steps import SAFE_ALPHABET, RotationError
from tests.rotation.driver import CURRENT, PENDING, Driver

TOKEN = "00000000-0000-4000-8000-00000000abcd"


class Counting(steps.Kind):
    name = "counting"

    def __init__(self):
        self.calls = []

    def create(self, rot, current):
        self.calls.append("create")
        return {**current, "value": rot.random(40)}

    def set(self, rot, current, pending):
        self.calls.append("set")


def run(kind, arn, token, step):
    return steps.run(kind, {"SecretId": arn, "ClientRequestToken": token, "Step": step})


def test_a_version_must_be_in_flight(aws):
    kind = Counting()
    version = aws.create_secret(Name="s", SecretString='{"value": "v"}')["VersionId"]
    with pytest.raises(RotationError, match="not a staged version"):
        run(kind, "s", TOKEN, "createSecret")
    aws.put_secret_value(SecretId="s", ClientRequestToken=TOKEN, SecretString='{"value": "w"}', VersionStages=["OTHER"])
    with pytest.raises(RotationError, match="not staged AWSPENDING"):
        run(kind, "s", TOKEN, "setSecret")
    assert run(kind, "s", version, "setSecret") == "already promoted"  # AWSCURRENT: nothing to do
    assert kind.calls == []


def test_rotation_disabled_and_unknown_steps_are_refused(aws):
    aws.create_secret(Name="s", SecretString='{"value": "v"}')
    driver = Driver(aws, "s", lambda e, c: run(Counting(), e["SecretId"], e["ClientRequestToken"], e["Step"]))
    token = driver.start()
    with pytest.raises(RotationError, match="unknown step"):
        run(Counting(), "s", token, "dropTables")
    driver.secret.rotation_enabled = False
    with pytest.raises(RotationError, match="not enabled"):
        run(Counting(), "s", token, "createSecret")
    with pytest.raises(RotationError, match="lacks SecretId"):
        steps.run(Counting(), {"Step": "createSecret"})


def test_create_runs_once_even_when_invoked_twice_at_once(aws):
    kind = Counting()
    aws.create_secret(Name="s", SecretString='{"value": "v"}')
    driver = Driver(aws, "s", lambda e, c: run(kind, e["SecretId"], e["ClientRequestToken"], e["Step"]))
    token = driver.start()
    results = driver.concurrently("createSecret")
    assert results == [None, None]
    stored = aws.get_secret_value(SecretId="s", VersionId=token)["SecretString"]
    assert run(kind, "s", token, "createSecret") == "pending exists"
    assert aws.get_secret_value(SecretId="s", VersionId=token)["SecretString"] == stored


def test_finish_moves_current_and_removes_pending_even_when_retried_halfway(aws):
    aws.create_secret(Name="s", SecretString='{"value": "v"}')
    driver = Driver(aws, "s", lambda e, c: run(Counting(), e["SecretId"], e["ClientRequestToken"], e["Step"]))
    token = driver.start()
    for _ in range(3):
        assert driver.step() is None
    # killed after its first label move (describe, get x2, update): AWSCURRENT and AWSPENDING together
    driver.step(("kill-after-call", 4))
    assert sorted(driver.stages()[token]) == [CURRENT, PENDING]
    assert driver.step() is None
    assert driver.stages()[token] == [CURRENT]


def test_logs_carry_only_allowed_fields():
    with pytest.raises(ValueError, match="not allowed"):
        steps.emit("oops", password="hunter2-hunter2")


def test_sdk_debug_logging_is_silenced_even_under_a_debug_root(aws, caplog):
    caplog.set_level(logging.DEBUG)
    aws.create_secret(Name="s", SecretString='{"value": "v"}')
    driver = Driver(aws, "s", lambda e, c: run(Counting(), e["SecretId"], e["ClientRequestToken"], e["Step"]))
    driver.start()
    driver.complete()
    value = json.loads(aws.get_secret_value(SecretId="s")["SecretString"])["value"]
    assert all(value not in r.getMessage() for r in caplog.records)
    assert {r.name for r in caplog.records if r.levelno < logging.WARNING} <= {"rotation"} | {
        r.name for r in caplog.records if r.name.startswith("moto")}


def test_generated_values_use_the_url_safe_alphabet(aws):
    rot = steps.Rotation(aws, "unused", TOKEN)
    values = [rot.random(32) for _ in range(300)]
    assert all(len(v) == 32 and SAFE_ALPHABET.issuperset(v) for v in values)
    assert set("".join(values)) == SAFE_ALPHABET  # nothing of the alphabet is lost either
    for bad in ['a"b', "a'b", "a@b", "a:b", "a/b", "a?b", "a#b", "a%b", "a\\b", "a b", "", None]:
        with pytest.raises(RotationError):
            steps.check_safe(bad, "x")


@pytest.mark.parametrize("secret,mode", [
    ({}, "verify-full"), ({"ssl": True}, "verify-full"), ({"ssl": "false"}, "disable"),
    ({"sslmode": "require"}, "require"), ({"sslmode": "verify-ca", "ssl": False}, "verify-ca"),
])
def test_tls_mode_comes_from_the_secret(secret, mode):
    assert pg.tls_mode(secret) == mode


@pytest.mark.parametrize("secret", [{"sslmode": "prefer"}, {"sslmode": "allow"}, {"sslmode": "bogus"}, {"ssl": "maybe"}])
def test_modes_that_permit_plaintext_are_refused(secret):
    with pytest.raises(RotationError):
        pg.tls_mode(secret)


def test_ssl_contexts_never_leave_tls_optional(tmp_path):
    assert pg.ssl_context("disable") is False  # pg8000: never TLS; None would mean "TLS if offered"
    full, ca, req = pg.ssl_context("verify-full"), pg.ssl_context("verify-ca"), pg.ssl_context("require")
    assert all(isinstance(c, ssl.SSLContext) for c in (full, ca, req))
    assert full.check_hostname and full.verify_mode == ssl.CERT_REQUIRED
    assert not ca.check_hostname and ca.verify_mode == ssl.CERT_REQUIRED
    assert req.verify_mode == ssl.CERT_NONE


class RefusesTls:
    """A server that answers SSLRequest with 'N' and records whatever the client sends afterwards."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.after_refusal: list[bytes] = []
        self.connections = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(8)
                    conn.sendall(b"N")
                    while data := conn.recv(4096):
                        self.after_refusal.append(data)
                except OSError:
                    pass


@pytest.mark.parametrize("mode", ["require", "verify-ca", "verify-full"])
def test_no_plaintext_fallback_when_the_server_refuses_tls(mode):
    server = RefusesTls()
    where = pg.Target("postgres", "127.0.0.1", server.port, "postgres", mode)
    with pytest.raises(Exception) as err:
        pg.login(where, {"username": "app", "password": "never-sent-in-clear-0123"}, "AWSCURRENT")
    assert "refuses SSL" in str(err.value)
    server.sock.close()
    assert server.connections == 1 and server.after_refusal == []  # no startup message, no second try


def test_scram_verifier_matches_an_independent_implementation():
    salt = bytes(range(16))
    ours = pg.scram_verifier("Correct-Horse_Battery9", salt=salt)
    _, stored, server, iterations = scramp.ScramMechanism().make_auth_info("Correct-Horse_Battery9", 4096, salt)
    import base64

    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    assert ours == f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored)}:{b64(server)}"
    assert "Correct-Horse" not in ours
    with pytest.raises(RotationError):
        pg.scram_verifier("it's-not-safe")


def test_identifiers_are_quoted():
    assert pg.ident('we"ird') == '"we""ird"'
    assert pg.literal("it's") == "'it''s'"
    with pytest.raises(RotationError):
        pg.ident("nul\x00")


@pytest.mark.parametrize("field,value", [("host", "other.example"), ("port", 6543), ("dbname", "other"),
                                         ("engine", "aurora-postgresql"), ("sslmode", "disable"), ("username", "root")])
def test_the_pending_secret_must_target_what_the_current_one_does(field, value):
    current = {"engine": "postgres", "host": "db.example", "port": 5432, "dbname": "app", "username": "app",
               "password": "x" * 20}
    pending = {**current, "password": "y" * 32}
    assert pg.check_pending(current, pending, "app") == pg.target(current)
    with pytest.raises(RotationError):
        pg.check_pending(current, {**pending, field: value}, "app")


def test_password_alphabet_excludes_everything_the_brief_names():
    assert not SAFE_ALPHABET & set("\"'@:/?#%\\ ")
    assert SAFE_ALPHABET >= set(string.ascii_letters + string.digits)
