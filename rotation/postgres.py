"""Postgres access shared by the single-user and alternating-users kinds.

A database secret is {engine, host, port, dbname, username, password, sslmode | ssl, masterarn?,
url? dsn? connection_string?}; the connection strings are rebuilt with every new password
(rotation/conninfo.py), so each consumer view of a version logs in alike.
TLS is what the secret says, never less: `sslmode` disable | require | verify-ca | verify-full (libpq's
meanings; `prefer` and `allow` are refused because they permit plaintext), or the templates' boolean
`ssl` (true = verify-full). Neither key means verify-full. A TLS connection that fails is an error,
never a retry in plaintext. CA bundle: $PGSSLROOTCERT, else the system trust store.

A new password reaches the server only as a SCRAM-SHA-256 verifier computed here, so no statement,
server log or pg_stat_statements entry ever holds it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from rotation import conninfo
from rotation.steps import RotationError, check_safe, env_int

ENGINES = ("postgres", "aurora-postgresql")
TLS_MODES = ("disable", "require", "verify-ca", "verify-full")
AUTH_FAILED = ("28P01", "28000")  # invalid_password, invalid_authorization_specification
TIMEOUT_SECONDS = 10


def password_length() -> int:
    return env_int("PASSWORD_LENGTH", 32, 16, 128)


@dataclass(frozen=True)
class Target:
    """Where and how to connect: the part of a secret that a rotation must never change."""

    engine: str
    host: str
    port: int
    dbname: str
    tls: str


def target(secret: dict) -> Target:
    engine, host = secret.get("engine"), secret.get("host")
    if engine not in ENGINES:
        raise RotationError("engine must be postgres or aurora-postgresql")
    if not isinstance(host, str) or not host:
        raise RotationError("host is missing")
    try:
        port = int(secret.get("port", 5432))
    except (TypeError, ValueError):
        raise RotationError("port is not an integer") from None
    return Target(engine, host, port, str(secret.get("dbname") or "postgres"), tls_mode(secret))


def tls_mode(secret: dict) -> str:
    if "sslmode" in secret:
        mode = secret["sslmode"]
        if mode in ("prefer", "allow"):
            raise RotationError(f"sslmode {mode} permits plaintext: use require, verify-ca or verify-full, or disable")
        if mode not in TLS_MODES:
            raise RotationError("sslmode must be disable, require, verify-ca or verify-full")
        return mode
    ssl = secret.get("ssl", True)
    if isinstance(ssl, str) and ssl.lower() in ("true", "false"):
        ssl = ssl.lower() == "true"
    if not isinstance(ssl, bool):
        raise RotationError("ssl must be true or false")
    return "verify-full" if ssl else "disable"


def ssl_context(mode: str) -> Any:
    """pg8000's ssl_context: False = no TLS, a context = TLS or fail. None (TLS if offered) is never used."""
    return False if mode == "disable" else _tls_context(mode, os.environ.get("PGSSLROOTCERT") or None)


@functools.lru_cache(maxsize=8)  # loading a trust store costs tens of milliseconds
def _tls_context(mode: str, cafile: str | None) -> Any:
    import ssl

    context = ssl.create_default_context(cafile=cafile)
    if mode == "require":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif mode == "verify-ca":
        context.check_hostname = False
    return context


def credentials(secret: dict, what: str) -> tuple[str, str]:
    user, password = secret.get("username"), secret.get("password")
    if not isinstance(user, str) or not user or not isinstance(password, str):
        raise RotationError(f"the {what} secret lacks a username or password")
    return user, password


def connect(where: Target, secret: dict, what: str):
    import pg8000.native  # lazily: only the database kinds need it

    user, password = credentials(secret, what)
    return pg8000.native.Connection(
        user=user, password=password, host=where.host, port=where.port, database=where.dbname,
        ssl_context=ssl_context(where.tls), timeout=TIMEOUT_SECONDS, application_name="secrets-platform-rotation",
    )


def login(where: Target, secret: dict, what: str):
    """A connection, or None when the server rejects these credentials. Any other failure raises."""
    import pg8000.exceptions

    try:
        return connect(where, secret, what)
    except pg8000.exceptions.DatabaseError as exc:
        if exc.args and isinstance(exc.args[0], dict) and exc.args[0].get("C") in AUTH_FAILED:
            return None
        raise


def check_login(where: Target, secret: dict, what: str) -> None:
    conn = login(where, secret, what)
    if conn is None:
        raise RotationError(f"the {what} credentials do not log in")
    with closing(conn):
        conn.run("SELECT 1")


def with_credentials(secret: dict, username: str, password: str) -> dict:
    """The next version: new credentials, and every connection string the secret carries rebuilt with them."""
    where = target(secret)
    return conninfo.rebuilt({**secret, "username": username, "password": password}, where.host, where.port, where.dbname)


def check_connection_strings(secret: dict, what: str) -> None:
    """Its url, dsn and connection_string hold its own username and password, and name its own server."""
    credentials(secret, what)
    where = target(secret)
    if conninfo.rebuilt(secret, where.host, where.port, where.dbname) != secret:
        raise RotationError(f"the {what} secret's connection strings do not carry its username and password")


def check_pending(current: dict, pending: dict, username: str) -> Target:
    """The pending secret must differ from the current one only in username (as expected), password and
    the connection strings built from them."""
    where = target(current)
    if target(pending) != where:
        raise RotationError("the pending secret's engine, host, port, dbname or TLS mode differ from AWSCURRENT's")
    if pending.get("username") != username:
        raise RotationError("the pending secret's username is not the one this rotation may change")
    check_safe(pending.get("password"), "the pending password")
    check_connection_strings(pending, "pending")
    return where


@contextmanager
def closing(conn) -> Iterator[Any]:
    try:
        yield conn
    finally:
        try:
            conn.close()
        except Exception:  # a broken socket has nothing left to close
            pass


@contextmanager
def transaction(conn, lock_key: str) -> Iterator[Any]:
    """One transaction holding the rotation lock of `lock_key`, with a search_path nobody else controls."""
    conn.run("BEGIN")
    try:
        conn.run("SET LOCAL search_path = pg_catalog, pg_temp")
        conn.run("SET LOCAL standard_conforming_strings = on")
        conn.run("SELECT pg_advisory_xact_lock(hashtext(:k))", k=f"secrets-platform/rotation/{lock_key}")
        yield conn
        conn.run("COMMIT")
    except BaseException:
        try:
            conn.run("ROLLBACK")
        except Exception:
            pass
        raise


def ident(name: str) -> str:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise RotationError("a role or object name is empty or holds NUL")
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string literal under standard_conforming_strings (set by `transaction`)."""
    return "'" + text.replace("'", "''") + "'"


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier Postgres stores (RFC 5802/7677). The password is from the safe
    ASCII alphabet, so SASLprep leaves it unchanged."""
    check_safe(password, "the new password")
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored)}:{b64(server)}"


def set_password(conn, role: str, password: str) -> None:
    conn.run(f"ALTER ROLE {ident(role)} PASSWORD {literal(scram_verifier(password))}")
