"""Connection strings of a Postgres secret, rebuilt for new credentials.

`url`, `dsn` and `connection_string` (whichever the secret carries) take the username and password of
the same version, so a consumer of the string and a consumer of the parts log in alike. Two forms:

- a URL, `postgres://` or `postgresql://`: user and password percent-encoded (RFC 3986 userinfo);
  host, port, database, query (`sslmode` and any other parameter) and fragment kept as written;
- libpq key=value (`host=db port=5432 dbname=app user=app password=... sslmode=require`): `user` and
  `password` replaced (quoted where needed), every other pair kept in its order.

Either must name the same host, port and database as the parts: a string pointing elsewhere would not
log in with the password set here, so the rotation stops instead.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from rotation.contract import CONNECTION_PROPERTIES
from rotation.steps import RotationError

SCHEMES = ("postgres", "postgresql")
DEFAULT_PORT = 5432
# libpq: key = value, the value bare (backslash escapes) or single-quoted (\' and \\ inside).
_PAIR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|(?:[^\s'\\]|\\.)+)")


def rebuilt(secret: dict, host: str, port: int, dbname: str) -> dict:
    """The secret with each connection string it carries made to hold its own username and password."""
    out = dict(secret)
    for key in CONNECTION_PROPERTIES:
        if key in secret:
            out[key] = rebuild(key, secret[key], secret["username"], secret["password"], host, port, dbname)
    return out


def rebuild(key: str, text: object, user: str, password: str, host: str, port: int, dbname: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise RotationError(f"the secret's {key} is not a connection string")
    if text.split("://", 1)[0].lower() in SCHEMES and "://" in text:
        return _url(key, text, user, password, (host, port, dbname))
    return _keywords(key, text, user, password, (host, port, dbname))


def _same_target(key: str, found: tuple[str | None, int | None, str | None], want: tuple[str, int, str]) -> None:
    host, port, dbname = found
    if (host or "").lower() != want[0].lower() or (port or DEFAULT_PORT) != want[1] or (dbname is not None and dbname != want[2]):
        raise RotationError(f"the secret's {key} names another host, port or dbname than its parts")


def _url(key: str, text: str, user: str, password: str, want: tuple[str, int, str]) -> str:
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        raise RotationError(f"the secret's {key} has an invalid port") from None
    path = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    _same_target(key, (parts.hostname, port, path or None), want)
    hostport = parts.netloc.rpartition("@")[2]
    userinfo = quote(user, safe="") + ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{hostport}", parts.path, parts.query, parts.fragment))


def _unquote_value(raw: str) -> str:
    inner = raw[1:-1] if raw.startswith("'") else raw
    return re.sub(r"\\(.)", r"\1", inner)


def _quote_value(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _keywords(key: str, text: str, user: str, password: str, want: tuple[str, int, str]) -> str:
    pairs, pos = [], 0
    while pos < len(text.rstrip()):
        match = _PAIR.match(text, pos)
        if match is None:
            raise RotationError(f"the secret's {key} is neither a postgres URL nor a libpq key=value string")
        pairs.append((match.group(1), _unquote_value(match.group(2))))
        pos = match.end()
    found = dict(pairs)
    try:
        port = int(found["port"]) if "port" in found else None
    except ValueError:
        raise RotationError(f"the secret's {key} has an invalid port") from None
    _same_target(key, (found.get("host") or found.get("hostaddr"), port, found.get("dbname")), want)
    fresh = {"user": user, "password": password}
    pairs = [(k, fresh.get(k, v)) for k, v in pairs] + [(k, v) for k, v in fresh.items() if k not in found]
    return " ".join(f"{k}={_quote_value(v)}" for k, v in pairs)
