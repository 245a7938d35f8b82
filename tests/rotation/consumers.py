"""Consumers of a database secret, as applications build their connection from the keys they read.

A consumer view is the set of keys one consumer reads: the keys its ExternalSecret maps, or the keys
it reads directly. From a connection string it parses what a client library would (urllib for a URL,
shlex for libpq key=value); from the parts it takes username, password, host, port and dbname. The
parsing here is the consumer's, written independently of rotation/conninfo.py, so a rebuilt string
that a client would read differently fails the checks.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pg8000.exceptions
import pg8000.native

from rotation import contract

PARTS = ("username", "password", "host", "port", "dbname")
# What the tests' database secrets declare, and who reads what.
DB_PROPERTIES = ("username", "password", "host", "port", "dbname", "url", "dsn")
DB_VIEWS = {
    "eso-database-url": ("url",),  # an ExternalSecret mapping DATABASE_URL <- url
    "eso-dsn": ("dsn",),
    "direct-parts": PARTS,  # an SDK client reading the parts from Secrets Manager
}


@dataclass(frozen=True)
class Login:
    user: str
    password: str
    host: str
    port: int
    dbname: str
    sslmode: str | None = None


def from_url(text: str) -> Login:
    parts = urlsplit(text)
    query = parse_qs(parts.query)
    return Login(unquote(parts.username or ""), unquote(parts.password or ""), parts.hostname or "",
                 parts.port or 5432, unquote(parts.path.lstrip("/")), query.get("sslmode", [None])[0])


def from_keywords(text: str) -> Login:
    pairs = dict(item.split("=", 1) for item in shlex.split(text))
    return Login(pairs.get("user", ""), pairs.get("password", ""), pairs.get("host", ""), int(pairs.get("port", 5432)),
                 pairs.get("dbname", ""), pairs.get("sslmode"))


def from_parts(secret: dict) -> Login:
    return Login(secret["username"], secret["password"], secret["host"], int(secret["port"]), secret["dbname"],
                 secret.get("sslmode"))


def view(secret: dict, keys: tuple[str, ...]) -> Login:
    """The login a consumer reading `keys` of `secret` makes."""
    if keys == PARTS:
        return from_parts(secret)
    (key,) = keys
    text = secret[key]
    return from_url(text) if "://" in text else from_keywords(text)


def views(secret: dict, reads: dict[str, tuple[str, ...]] = DB_VIEWS) -> dict[str, Login]:
    return {name: view(secret, keys) for name, keys in reads.items()}


def with_strings(secret: dict, query: str = "sslmode=disable&application_name=consumer") -> dict:
    """The secret as a team writes it by hand: a DATABASE_URL and a libpq DSN beside the parts."""
    user, password = quote(secret["username"], safe=""), quote(secret["password"], safe="")
    host, port, db, mode = secret["host"], secret["port"], secret["dbname"], secret.get("sslmode", "disable")
    return {**secret, "url": f"postgresql://{user}:{password}@{host}:{port}/{db}?{query}",
            "dsn": f"host={host} port={port} dbname={db} user={shlex.quote(secret['username'])} "
                   f"password={shlex.quote(secret['password'])} sslmode={mode}"}


def check_declared(kind: str) -> None:
    """The shape under test is one the spec accepts: every view reads declared properties, none goes stale."""
    assert contract.problems(kind, {}, DB_PROPERTIES, DB_VIEWS) == []


def same_server(secret: dict, login: Login) -> bool:
    """The view names the server, port and database of the secret's parts (where the rotation set the password)."""
    parts = from_parts(secret)
    return (login.host, login.port, login.dbname, login.sslmode) == (parts.host, parts.port, parts.dbname, parts.sslmode)


def logs_in(login: Login, host: str | None = None, port: int | None = None) -> bool:
    """A real pg8000 login with the view's credentials and database (at the view's own address unless
    another is given); False when the server rejects the credentials."""
    try:
        pg8000.native.Connection(login.user, password=login.password, host=host or login.host, port=port or login.port,
                                 database=login.dbname, ssl_context=False, timeout=10).close()
    except pg8000.exceptions.DatabaseError as exc:
        if exc.args[0].get("C") in ("28P01", "28000"):
            return False
        raise
    return True
