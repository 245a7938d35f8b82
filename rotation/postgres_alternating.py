"""Postgres alternating-users rotation: a superuser-held secret switches between `user` and `user_clone`.

The secret names its superuser secret in `masterarn` (as AWS's template does). Each rotation sets a
new password on the user that is *not* current, so the current one keeps working until the label
moves. In setSecret, in one transaction under the superuser: objects the clone created are handed
to the original (REASSIGN OWNED), then the clone is made a mirror of the original: role attributes,
memberships (with their options), privileges on databases, schemas, tables, views, sequences,
columns, routines, types, languages, foreign data wrappers and servers, tablespaces and large
objects (the owner's implicit privileges included), default privileges both ways (those the
original defines, those others define for it), and per-role settings. Anything the original lacks
is revoked from the clone. testSecret fails if the mirror has drifted. Each version writes `username`
and `password` and rebuilds `url`/`dsn`/`connection_string` for its user (rotation/contract.py).

    handler: rotation.postgres_alternating.handler
    env:     PASSWORD_LENGTH (16..128, default 32), PGSSLROOTCERT (CA bundle), SECRETS_MANAGER_ENDPOINT
    needs:   GetSecretValue on the masterarn secret (and its key); a superuser (or a role that is a
             member of both users and of every role that defines default privileges for them)
"""

from __future__ import annotations

import re

from rotation import postgres as pg
from rotation.postgres import ident, literal
from rotation.steps import CURRENT, Kind, Rotation, RotationError, handler_for

SUFFIX = "_clone"
# GUCs stored as a list of quoted identifiers: mirrored element by element.
LIST_SETTINGS = {"search_path", "temp_tablespaces", "local_preload_libraries", "session_preload_libraries"}
DEFAULT_TYPES = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS", "L": "LARGE OBJECTS"}


def pair(username: str) -> tuple[str, str]:
    """(original, clone) for either of the two usernames."""
    base = username[: -len(SUFFIX)] if username.endswith(SUFFIX) else username
    if not base or len((base + SUFFIX).encode()) > 63:
        raise RotationError("the username with _clone appended would exceed 63 bytes")
    return base, base + SUFFIX


def partner(username: str) -> str:
    base, clone = pair(username)
    return base if username == clone else clone


class Alternating(Kind):
    name = "postgres-alternating"

    def create(self, rot: Rotation, current: dict) -> dict:
        pg.target(current)
        user, _ = pg.credentials(current, "AWSCURRENT")
        self._master_arn(current)
        return pg.with_credentials(current, partner(user), rot.random(pg.password_length()))

    def set(self, rot: Rotation, current: dict, pending: dict) -> None:
        user, _ = pg.credentials(current, "AWSCURRENT")
        where = pg.check_pending(current, pending, partner(user))
        if pending.get("masterarn") != current.get("masterarn"):
            raise RotationError("the pending secret's masterarn differs from AWSCURRENT's")
        # The superuser acts only for a secret whose own credentials work (no confused deputy).
        pg.check_login(where, current, "AWSCURRENT")
        base, clone = pair(user)
        with pg.closing(self._master(rot, current, where)) as conn, pg.transaction(conn, base):
            if not rot.still_in_flight():  # a late duplicate must not undo a newer rotation
                raise RotationError("the version is no longer in flight; nothing changed")
            check_original(conn, base)
            if not role_exists(conn, pending["username"]):
                conn.run(f"CREATE ROLE {ident(pending['username'])} LOGIN")
            pg.set_password(conn, pending["username"], pending["password"])
            if role_exists(conn, clone):
                conn.run(f"REASSIGN OWNED BY {ident(clone)} TO {ident(base)}")
                for statement in mirror_plan(conn, base, clone):
                    conn.run(statement)

    def test(self, rot: Rotation, pending: dict) -> None:
        pg.check_connection_strings(pending, "pending")
        where = pg.target(pending)
        pg.check_login(where, pending, "pending")
        base, clone = pair(pending["username"])
        with pg.closing(self._master(rot, pending, where)) as conn, pg.transaction(conn, base):
            drift = mirror_plan(conn, base, clone)
        if drift:
            raise RotationError(f"the clone's privileges differ from the original's ({len(drift)} statements to apply)")

    def finish(self, rot: Rotation, current: dict, pending: dict) -> None:
        pg.check_login(pg.target(pending), pending, "pending")

    @staticmethod
    def _master_arn(secret: dict) -> str:
        arn = secret.get("masterarn")
        if not isinstance(arn, str) or not arn:
            raise RotationError("the secret lacks masterarn, the superuser secret for alternating users")
        return arn

    def _master(self, rot: Rotation, secret: dict, where: pg.Target):
        """A superuser connection to the rotated secret's own server, database and TLS mode."""
        master = rot.require(CURRENT, arn=self._master_arn(secret))
        for key in ("host", "port"):
            if key in master and str(master[key]) != str(getattr(where, key)):
                raise RotationError(f"the masterarn secret's {key} differs from the rotated secret's")
        conn = pg.login(where, master, "masterarn")
        if conn is None:
            raise RotationError("the masterarn credentials do not log in")
        return conn


def role_exists(conn, name: str) -> bool:
    return bool(conn.run("SELECT 1 FROM pg_roles WHERE rolname = :n", n=name))


def check_original(conn, base: str) -> None:
    rows = conn.run("SELECT rolsuper OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = :n", n=base)
    if not rows:
        raise RotationError("the original user does not exist in the database")
    if rows[0][0]:
        raise RotationError("refusing to clone a superuser, replication or bypassrls role")


def mirror_plan(conn, base: str, clone: str) -> list[str]:
    """The statements that make `clone` hold exactly what `base` holds; empty when it already does."""
    ids = {"base": base, "clone": clone}
    me, other = ident(clone), ident(base)

    def own(key):  # FOR ROLE clone; the grantee named relative to the definer
        _, schema, typ, grantee, privilege = key
        return me, schema, typ, privilege, {"SELF": me, "OTHER": other}.get(grantee, grantee)

    def others(key):  # FOR ROLE the definer; the grantee is the clone
        definer, schema, typ, _, privilege = key
        return definer, schema, typ, privilege, me

    return (
        _attributes(conn, ids)
        + _memberships(conn, ids)
        + _diff(conn.run(OBJECT_ACL, **ids), _object_grant(me), _object_revoke(me))
        + _diff(conn.run(OWN_DEFAULTS, **ids), *_default_statements(own))
        + _diff(conn.run(OTHERS_DEFAULTS, **ids), *_default_statements(others))
        + _settings(conn, ids)
    )


def _diff(rows, grant, revoke) -> list[str]:
    """rows: (is_base, key..., grantable, grantor). Grant what base has and clone lacks (or holds
    without its grant option); revoke from clone, per grantor, what base lacks."""
    want: dict[tuple, bool] = {}
    have: dict[tuple, list[tuple[bool, str]]] = {}
    for is_base, *key, grantable, grantor in rows:
        if is_base:
            want[tuple(key)] = want.get(tuple(key), False) or grantable
        else:
            have.setdefault(tuple(key), []).append((grantable, grantor))
    out = []
    for key, grants in sorted(have.items()):
        for grantable, grantor in grants:
            if key not in want:
                out.append(revoke(key, False, grantor))
            elif grantable and not want[key]:
                out.append(revoke(key, True, grantor))
    for key, grantable in sorted(want.items()):
        held = have.get(key, [])
        if not held or (grantable and not any(g for g, _ in held)):
            out.append(grant(key, grantable))
    return out


def _mentions(owner: str, acl: str) -> str:
    """Rows worth exploding: owned by the original, or naming either user in their ACL (cheap: most are NULL)."""
    return (f"({owner} = (SELECT base FROM r) OR EXISTS (SELECT 1 FROM aclexplode({acl}) x "
            f"WHERE x.grantee IN ((SELECT base FROM r), (SELECT clone FROM r))))")


# Every ACL-bearing object of this database (and the shared catalogs), with the owner's implicit
# privileges (grant options included) made explicit. Objects the clone owns are left out: setSecret has just
# reassigned them, and a table the live clone creates meanwhile must not count as drift.
OBJECT_ACL = f"""
WITH r AS (SELECT (SELECT oid FROM pg_roles WHERE rolname = :base) AS base,
                  (SELECT oid FROM pg_roles WHERE rolname = :clone) AS clone),
obj(kind, target, col, acl, owner, dflt) AS (
    SELECT 'DATABASE', quote_ident(datname), '', datacl, datdba, 'd' FROM pg_database WHERE {_mentions("datdba", "datacl")}
  UNION ALL SELECT 'SCHEMA', quote_ident(nspname), '', nspacl, nspowner, 'n' FROM pg_namespace
            WHERE {_mentions("nspowner", "nspacl")}
  UNION ALL SELECT CASE relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, oid::regclass::text, '', relacl, relowner,
                   CASE relkind WHEN 'S' THEN 's' ELSE 'r' END
            FROM pg_class WHERE relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND {_mentions("relowner", "relacl")}
  UNION ALL SELECT 'TABLE', c.oid::regclass::text, quote_ident(a.attname), a.attacl, c.relowner, NULL
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE a.attacl IS NOT NULL AND NOT a.attisdropped AND {_mentions("NULL", "a.attacl")}
  UNION ALL SELECT 'ROUTINE', oid::regprocedure::text, '', proacl, proowner, 'f' FROM pg_proc
            WHERE {_mentions("proowner", "proacl")}
  UNION ALL SELECT 'TYPE', t.oid::regtype::text, '', t.typacl, t.typowner, 'T' FROM pg_type t
            WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r') AND {_mentions("t.typowner", "t.typacl")}
              AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
              AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
  UNION ALL SELECT 'LANGUAGE', quote_ident(lanname), '', lanacl, lanowner, 'l' FROM pg_language
            WHERE {_mentions("lanowner", "lanacl")}
  UNION ALL SELECT 'FOREIGN DATA WRAPPER', quote_ident(fdwname), '', fdwacl, fdwowner, 'F' FROM pg_foreign_data_wrapper
            WHERE {_mentions("fdwowner", "fdwacl")}
  UNION ALL SELECT 'FOREIGN SERVER', quote_ident(srvname), '', srvacl, srvowner, 'S' FROM pg_foreign_server
            WHERE {_mentions("srvowner", "srvacl")}
  UNION ALL SELECT 'TABLESPACE', quote_ident(spcname), '', spcacl, spcowner, 't' FROM pg_tablespace
            WHERE {_mentions("spcowner", "spcacl")}
  UNION ALL SELECT 'LARGE OBJECT', oid::text, '', lomacl, lomowner, 'L' FROM pg_largeobject_metadata
            WHERE {_mentions("lomowner", "lomacl")}
)
SELECT g.grantee = r.base, o.kind, o.target, o.col, g.privilege_type,
       g.is_grantable OR g.grantee = o.owner, quote_ident(gr.rolname)
FROM r, obj o,
     aclexplode(CASE WHEN o.dflt IS NULL THEN o.acl ELSE coalesce(o.acl, acldefault(o.dflt::"char", o.owner)) END) g
     JOIN pg_roles gr ON gr.oid = g.grantor
WHERE g.grantee IN (r.base, r.clone) AND o.owner IS DISTINCT FROM r.clone
"""


def as_grantor(grantor: str, statement: str) -> str:
    """A REVOKE removes only the grants its current user made (GRANTED BY takes no other role for
    object privileges), so it runs as the recorded grantor."""
    return f"SET ROLE {grantor}; {statement}; RESET ROLE"


def _object_grant(clone: str):
    def grant(key, grantable):
        kind, target, col, privilege = key
        what = f"{privilege} ({col})" if col else privilege
        return f"GRANT {what} ON {kind} {target} TO {clone}" + (" WITH GRANT OPTION" if grantable else "")

    return grant


def _object_revoke(clone: str):
    def revoke(key, option_only, grantor):
        kind, target, col, privilege = key
        what = f"{privilege} ({col})" if col else privilege
        option = "GRANT OPTION FOR " if option_only else ""
        return as_grantor(grantor, f"REVOKE {option}{what} ON {kind} {target} FROM {clone} CASCADE")

    return revoke


# Default privileges the two users define for their own future objects, with the hard-wired
# defaults where no global entry exists. Grantees are named relative to the definer (SELF, OTHER)
# so the original's entries map onto the clone's.
OWN_DEFAULTS = """
WITH r AS (SELECT (SELECT oid FROM pg_roles WHERE rolname = :base) AS base,
                  (SELECT oid FROM pg_roles WHERE rolname = :clone) AS clone),
who AS (SELECT base AS oid FROM r UNION SELECT clone FROM r WHERE clone IS NOT NULL),
d(definer, nsp, typ, acl) AS (
    SELECT defaclrole, defaclnamespace, defaclobjtype, defaclacl FROM pg_default_acl WHERE defaclrole IN (SELECT oid FROM who)
  UNION ALL
    SELECT who.oid, 0, t.typ, acldefault(CASE t.typ WHEN 'S' THEN 's' ELSE t.typ END, who.oid)
    FROM who, (VALUES ('r'::"char"), ('S'), ('f'), ('T'), ('n')) t(typ)
    WHERE NOT EXISTS (SELECT 1 FROM pg_default_acl
                      WHERE defaclrole = who.oid AND defaclnamespace = 0 AND defaclobjtype = t.typ)
)
SELECT d.definer = r.base, '', coalesce(quote_ident(n.nspname), ''), d.typ::text,
       CASE g.grantee WHEN d.definer THEN 'SELF' WHEN 0 THEN 'PUBLIC'
            WHEN (CASE d.definer WHEN r.base THEN r.clone ELSE r.base END) THEN 'OTHER'
            ELSE quote_ident(gr.rolname) END,
       g.privilege_type, g.is_grantable, ''
FROM r, d LEFT JOIN pg_namespace n ON n.oid = d.nsp, aclexplode(d.acl) g LEFT JOIN pg_roles gr ON gr.oid = g.grantee
"""

# Default privileges other roles define that name one of the two users as grantee.
OTHERS_DEFAULTS = """
WITH r AS (SELECT (SELECT oid FROM pg_roles WHERE rolname = :base) AS base,
                  (SELECT oid FROM pg_roles WHERE rolname = :clone) AS clone)
SELECT g.grantee = r.base, quote_ident(o.rolname), coalesce(quote_ident(n.nspname), ''), a.defaclobjtype::text,
       '', g.privilege_type, g.is_grantable, ''
FROM r, pg_default_acl a JOIN pg_roles o ON o.oid = a.defaclrole
     LEFT JOIN pg_namespace n ON n.oid = a.defaclnamespace, aclexplode(a.defaclacl) g
WHERE g.grantee IN (r.base, r.clone) AND a.defaclrole NOT IN (r.base, coalesce(r.clone, 0))
"""


def _default_statements(parties):
    """(grant, revoke) builders for ALTER DEFAULT PRIVILEGES; `parties(key)` gives definer, schema,
    object type, privilege and grantee."""

    def clause(definer, schema, typ):
        if typ not in DEFAULT_TYPES:
            raise RotationError("a default privilege has an object type this rotation cannot mirror")
        return f"ALTER DEFAULT PRIVILEGES FOR ROLE {definer}" + (f" IN SCHEMA {schema}" if schema else "")

    def grant(key, grantable):
        definer, schema, typ, privilege, grantee = parties(key)
        option = " WITH GRANT OPTION" if grantable else ""
        return f"{clause(definer, schema, typ)} GRANT {privilege} ON {DEFAULT_TYPES[typ]} TO {grantee}{option}"

    def revoke(key, option_only, _grantor):
        definer, schema, typ, privilege, grantee = parties(key)
        option = "GRANT OPTION FOR " if option_only else ""
        return f"{clause(definer, schema, typ)} REVOKE {option}{privilege} ON {DEFAULT_TYPES[typ]} FROM {grantee} CASCADE"

    return grant, revoke


def _attributes(conn, ids) -> list[str]:
    rows = conn.run(
        "SELECT rolname = :base, rolinherit, rolcreatedb, rolcreaterole, rolconnlimit FROM pg_roles "
        "WHERE rolname IN (:base, :clone)", **ids,
    )
    got = {is_base: tuple(rest) for is_base, *rest in rows}
    if len(got) < 2 or got[True] == got[False]:
        return []
    inherit, createdb, createrole, limit = got[True]
    flags = ("" if inherit else "NO") + "INHERIT " + ("" if createdb else "NO") + "CREATEDB " + ("" if createrole else "NO") + "CREATEROLE"
    return [f"ALTER ROLE {ident(ids['clone'])} {flags} CONNECTION LIMIT {int(limit)}"]


def _memberships(conn, ids) -> list[str]:
    """Role memberships with ADMIN (and, from Postgres 16, INHERIT and SET) options, per grantor."""
    v16 = int(conn.run("SELECT current_setting('server_version_num')")[0][0]) >= 160000
    options = "m.admin_option, m.inherit_option, m.set_option" if v16 else "m.admin_option"
    rows = conn.run(
        f"SELECT u.rolname = :base, quote_ident(g.rolname), {options}, quote_ident(gr.rolname) "
        "FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member JOIN pg_roles g ON g.oid = m.roleid "
        "JOIN pg_roles gr ON gr.oid = m.grantor "
        "WHERE u.rolname IN (:base, :clone) AND g.rolname <> :clone",
        **ids,
    )
    want = {role: tuple(opts) for is_base, role, *opts, _ in rows if is_base}
    have: dict[str, list] = {}
    for is_base, role, *opts, grantor in rows:
        if not is_base:
            have.setdefault(role, []).append((tuple(opts), grantor))
    clone, out = ident(ids["clone"]), []
    for role, grants in sorted(have.items()):
        if want.get(role) not in [opts for opts, _ in grants] or len(grants) > 1:
            out += [as_grantor(grantor, f"REVOKE {role} FROM {clone} CASCADE") for _, grantor in grants]
            have[role] = []
    for role, opts in sorted(want.items()):
        if not have.get(role):
            names = ("ADMIN", "INHERIT", "SET")[: len(opts)]
            out.append(f"GRANT {role} TO {clone} WITH " + ", ".join(f"{n} {str(o).upper()}" for n, o in zip(names, opts))
                       if v16 else f"GRANT {role} TO {clone}" + (" WITH ADMIN OPTION" if opts[0] else ""))
    return out


def _settings(conn, ids) -> list[str]:
    """Per-role (and per-role-and-database) settings such as search_path or statement_timeout."""
    rows = conn.run(
        "SELECT r.rolname = :base, coalesce(quote_ident(d.datname), ''), unnest(s.setconfig) "
        "FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase "
        "WHERE r.rolname IN (:base, :clone)", **ids,
    )
    want, have = {}, {}
    for is_base, db, entry in rows:
        name, _, value = entry.partition("=")
        (want if is_base else have)[(db, name)] = value
    clone, out = ident(ids["clone"]), []
    for (db, name) in sorted(set(have) - set(want)):
        out.append(f"ALTER ROLE {clone}{_in_db(db)} RESET {_guc(name)}")
    for (db, name), value in sorted(want.items()):
        if have.get((db, name)) != value:
            out.append(f"ALTER ROLE {clone}{_in_db(db)} SET {_guc(name)} TO {_setting_value(name, value)}")
    return out


def _in_db(db: str) -> str:
    return f" IN DATABASE {db}" if db else ""


def _guc(name: str) -> str:
    return ".".join(ident(part) for part in name.split("."))


def _setting_value(name: str, value: str) -> str:
    if name.lower() not in LIST_SETTINGS:
        return literal(value)
    # Stored as `a, "b c", "$user"`: one literal per element, unquoted, re-quoted by the server.
    elements = re.findall(r'\s*("(?:[^"]|"")*"|[^,]+?)\s*(?:,|$)', value)
    return ", ".join(literal(e[1:-1].replace('""', '"') if e.startswith('"') else e) for e in elements if e)


handler = handler_for(Alternating())
