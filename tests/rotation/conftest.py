"""Fixtures of the rotation proof: moto with AWS's staging semantics, a movable clock, leak checks."""

from __future__ import annotations

import base64
import json
import logging
import re
import sys

import boto3
from botocore import UNSIGNED
from botocore.config import Config
import pg8000.exceptions
import pg8000.native
import pytest
import scramp
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends

from rotation import steps
from tests.rotation import pgstate
from tests.rotation.driver import faithful
from tests.rotation.proxy import Proxy

REGION = "us-east-1"

# The session's PostgreSQL comes from tests/fixtures/postgres.py. tests/conftest.py is meant to load it with
# pytest_plugins; until it does, import it here (importing it twice would start a second server).
if "tests.fixtures.postgres" not in getattr(sys.modules.get("tests.conftest"), "pytest_plugins", ()):
    from tests.fixtures.postgres import postgres, postgres_tls  # noqa: F401


@pytest.fixture
def aws(monkeypatch):
    """A Secrets Manager client over moto corrected to AWS's staging semantics; the handlers use it."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION, "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws(), faithful():
        # unsigned: moto checks no signature, and signing is a fifth of each call's cost
        sm = boto3.client("secretsmanager", region_name=REGION, config=Config(signature_version=UNSIGNED))
        monkeypatch.setattr(steps, "_client", sm)
        yield sm


class Clock:
    def __init__(self, now: float = 1_767_225_600.0):  # 2026-01-01T00:00:00Z
        self.now = now

    def __call__(self) -> float:
        return self.now

    def jump(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(steps, "clock", fake)
    return fake


def stored_values() -> set[str]:
    """Every password and value held by any version of any secret in moto, present or past."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("password", "value") and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for secret in secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets.values():
        for version in secret.versions.values():
            try:
                walk(json.loads(version.get("secret_string", "null")))
            except ValueError:
                pass
    return found


def assert_nothing_leaked(records: list[logging.LogRecord], texts=(), extra: set[str] = frozenset()) -> None:
    """No log line (message or traceback) and no error text holds any secret value."""
    values = {v for v in stored_values() | set(extra) if len(v) >= 8}
    lines = [r.getMessage() + (r.exc_text or "") for r in records] + [str(t) for t in texts]
    for line in lines:
        for value in values:
            assert value not in line, "a secret value reached a log line or an error message"


INITIAL = "initial-app-password-0123456789"
MASTER = "rotator"
MASTER_PASSWORD = "rotator-superuser-password-9876543210"


class AppDatabase:
    """The application database on the shared test server, with a relay the tests can cut. The
    handlers connect through the relay; the checks connect directly, so an outage never hides a result."""

    name = "rotation"

    def __init__(self, server, proxy: Proxy):
        self.server, self.proxy, self._admin = server, proxy, None

    def admin(self):
        """A superuser connection to the application database (re-opened after a server restart)."""
        if self._admin is not None:
            try:
                self._admin.run("SELECT 1")
                return self._admin
            except Exception:
                self._admin = None
        self._admin = self.server.connect(database=self.name)
        return self._admin

    def reset(self) -> None:
        admin = self.admin()
        admin.run(pgstate.TEARDOWN)
        admin.run(f"DROP ROLE IF EXISTS {MASTER}")
        pgstate.setup(admin, self.name, INITIAL)
        admin.run(f"CREATE ROLE {MASTER} SUPERUSER LOGIN PASSWORD '{MASTER_PASSWORD}'")
        self.proxy.up()

    def secret(self, **extra) -> dict:
        return {"engine": "postgres", "host": "127.0.0.1", "port": self.proxy.port, "dbname": self.name,
                "username": pgstate.APP, "password": INITIAL, "sslmode": "disable", **extra}

    def master(self) -> dict:
        return {"username": MASTER, "password": MASTER_PASSWORD, "host": "127.0.0.1", "port": self.proxy.port}

    def connect_as(self, secret: dict):
        """A connection with these credentials, made directly (not through the relay)."""
        return pg8000.native.Connection(
            secret["username"], password=secret["password"], host=self.server.host, port=self.server.port,
            database=self.name, ssl_context=False, timeout=10,
        )

    def logs_in(self, secret: dict | None) -> bool:
        """Whether the server accepts these credentials."""
        if not secret:
            return False
        try:
            self.connect_as(secret).close()
        except pg8000.exceptions.DatabaseError as exc:
            if exc.args[0].get("C") in ("28P01", "28000"):
                return False
            raise
        return True

    def accepts(self, secret: dict | None) -> bool:
        """Whether these credentials match the server's stored SCRAM verifier for a login role: what
        authentication checks, computed here with scramp instead of a new backend per check."""
        if not secret:
            return False
        rows = self.admin().run("SELECT rolpassword FROM pg_authid WHERE rolname = :u AND rolcanlogin",
                                u=secret["username"])
        if not rows or not (rows[0][0] or "").startswith("SCRAM-SHA-256$"):
            return False
        iterations, salt, stored = re.match(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):", rows[0][0]).groups()
        _, expected, _, _ = scramp.ScramMechanism().make_auth_info(secret["password"], int(iterations), base64.b64decode(salt))
        return base64.b64encode(expected).decode() == stored

    def refuse_password_changes(self, role: str, refuse: bool) -> None:
        """A real server-side refusal: ALTER ROLE fails in a read-only transaction."""
        verb = "SET default_transaction_read_only = on" if refuse else "RESET default_transaction_read_only"
        self.admin().run(f"ALTER ROLE {role} {verb}")


@pytest.fixture(scope="session")
def app_db(postgres):
    admin = postgres.connect()
    if not admin.run("SELECT 1 FROM pg_database WHERE datname = 'rotation'"):
        admin.run("CREATE DATABASE rotation")
    admin.close()
    proxy = Proxy(postgres.host, postgres.port)
    yield AppDatabase(postgres, proxy)
    proxy.close()


@pytest.fixture
def db(app_db) -> AppDatabase:
    app_db.reset()
    yield app_db
    app_db.proxy.recording = False


def pytest_collection_modifyitems(config, items):
    """`slow` schedules run only when asked for (`-m slow`); the default run stays within minutes."""
    if "slow" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="long fault schedules: run with -m slow")
    for item in items:
        if "slow" in item.keywords and "tests/rotation/" in str(item.path):
            item.add_marker(skip)
