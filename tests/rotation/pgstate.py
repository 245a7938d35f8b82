"""The test database's application: roles, objects and grants of every kind the clone must mirror, and an
oracle of what a role can do that does not share code with the handler's catalog queries (it asks the
server's has_*_privilege functions and pg_has_role over every object)."""

from __future__ import annotations

APP, CLONE = "app", "app_clone"

# Run as the superuser in the test database {db}; {auditors} is what the server's version allows. Every privilege kind the mirror claims to copy
# appears at least once, including the owner's implicit privileges and both directions of defaults.
SETUP = """
CREATE ROLE migrator NOLOGIN;
CREATE ROLE reporting NOLOGIN;
CREATE ROLE readers NOLOGIN;
CREATE ROLE auditors NOLOGIN;
CREATE ROLE app LOGIN PASSWORD '{password}' CONNECTION LIMIT 50 CREATEDB;
GRANT readers TO app WITH ADMIN OPTION;
GRANT auditors TO app {auditors};
GRANT CONNECT, TEMPORARY ON DATABASE {db} TO app;
CREATE SCHEMA shop AUTHORIZATION migrator;
GRANT USAGE, CREATE ON SCHEMA shop TO app;
SET ROLE migrator;
CREATE TABLE shop.orders (id serial PRIMARY KEY, status text, total int);
CREATE TABLE shop.audit (id int, note text);
CREATE VIEW shop.open_orders AS SELECT id, status FROM shop.orders WHERE status = 'open';
CREATE FUNCTION shop.order_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM shop.orders';
CREATE TYPE shop.mood AS ENUM ('ok', 'bad');
REVOKE EXECUTE ON FUNCTION shop.order_count() FROM PUBLIC;
REVOKE USAGE ON TYPE shop.mood FROM PUBLIC;
GRANT EXECUTE ON FUNCTION shop.order_count() TO app;
GRANT USAGE ON TYPE shop.mood TO app;
GRANT SELECT, INSERT ON shop.orders TO app;
GRANT UPDATE (status) ON shop.orders TO app;
GRANT SELECT ON shop.audit TO app WITH GRANT OPTION;
GRANT SELECT ON shop.open_orders TO app;
GRANT USAGE ON SEQUENCE shop.orders_id_seq TO app;
ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT ON TABLES TO app;
RESET ROLE;
CREATE SCHEMA app_own AUTHORIZATION app;
SET ROLE app;
CREATE TABLE app_own.notes (id int, body text);
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO reporting;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA app_own GRANT INSERT ON TABLES TO readers WITH GRANT OPTION;
RESET ROLE;
SELECT lo_create(4242);
GRANT SELECT ON LARGE OBJECT 4242 TO app;
ALTER ROLE app SET search_path = shop, "$user", "odd, name", public;
ALTER ROLE app IN DATABASE {db} SET statement_timeout = '5s';
ALTER ROLE app SET application_name = 'it''s the app';
"""

TEARDOWN = """
DO $$ DECLARE r text; BEGIN
  FOREACH r IN ARRAY array['app_clone', 'app', 'migrator', 'reporting', 'readers', 'auditors'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('DROP OWNED BY %I CASCADE', r);
      EXECUTE format('DROP ROLE %I', r);
    END IF;
  END LOOP;
END $$;
DROP SCHEMA IF EXISTS shop, app_own CASCADE;
SELECT lo_unlink(oid) FROM pg_largeobject_metadata WHERE oid = 4242;
"""

_USER_NS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'"


def _with_option(privileges: list[str]) -> list[str]:
    return privileges + [f"{p} WITH GRANT OPTION" for p in privileges]


_PRIVILEGES = {
    "table": ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"],
    "sequence": ["USAGE", "SELECT", "UPDATE"],
    "column": ["SELECT", "INSERT", "UPDATE", "REFERENCES"],
    "schema": ["USAGE", "CREATE"],
    "database": ["CONNECT", "CREATE", "TEMPORARY"],
    "function": ["EXECUTE"],
    "type": ["USAGE"],
}
_A = {key: "array" + repr(_with_option(value)) for key, value in _PRIVILEGES.items()}
ROLE_PRIVILEGES = {True: "array['MEMBER', 'USAGE', 'SET', 'MEMBER WITH ADMIN OPTION']",  # Postgres 16+
                   False: "array['MEMBER', 'USAGE', 'MEMBER WITH ADMIN OPTION']"}


def v16(conn) -> bool:
    return int(conn.run("SHOW server_version_num")[0][0]) >= 160000


def setup(conn, db: str, password: str) -> None:
    conn.run(SETUP.format(db=db, password=password, auditors="WITH INHERIT FALSE, SET FALSE" if v16(conn) else ""))

ORACLE = f"""
SELECT 'table', c.oid::regclass::text, p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
       unnest({_A['table']}::text[]) p
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_USER_NS} AND has_table_privilege(:role, c.oid, p)
UNION ALL
SELECT 'sequence', c.oid::regclass::text, p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
       unnest({_A['sequence']}::text[]) p
 WHERE c.relkind = 'S' AND {_USER_NS} AND has_sequence_privilege(:role, c.oid, p)
UNION ALL
SELECT 'column', c.oid::regclass::text || '.' || a.attname, p
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
       unnest({_A['column']}::text[]) p
 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v') AND {_USER_NS}
   AND has_column_privilege(:role, c.oid, a.attnum, p)
UNION ALL
SELECT 'schema', n.nspname, p FROM pg_namespace n, unnest({_A['schema']}::text[]) p WHERE has_schema_privilege(:role, n.oid, p)
UNION ALL
SELECT 'database', d.datname, p FROM pg_database d, unnest({_A['database']}::text[]) p WHERE has_database_privilege(:role, d.oid, p)
UNION ALL
SELECT 'function', f.oid::regprocedure::text, p FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace,
       unnest({_A['function']}::text[]) p
 WHERE {_USER_NS} AND has_function_privilege(:role, f.oid, p)
UNION ALL
SELECT 'type', t.oid::regtype::text, p FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace,
       unnest({_A['type']}::text[]) p
 WHERE {_USER_NS} AND t.typcategory <> 'A' AND has_type_privilege(:role, t.oid, p)
   AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
UNION ALL
SELECT 'role', r.rolname, p FROM pg_roles r, unnest({{roles}}::text[]) p
 WHERE r.rolname NOT IN ('app', 'app_clone') AND pg_has_role(:role, r.oid, p)
UNION ALL
SELECT 'attribute', 'self', concat_ws(',', rolinherit, rolcreatedb, rolcreaterole, rolconnlimit, rolsuper)
  FROM pg_roles WHERE rolname = :role
UNION ALL
SELECT 'setting', coalesce(d.datname, '*'), unnest(s.setconfig) FROM pg_db_role_setting s
  JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase WHERE r.rolname = :role
"""


def privileges(conn, role: str) -> frozenset:
    """What `role` can do, object by object, as the server itself answers it."""
    rows = conn.run(ORACLE.replace("{roles}", ROLE_PRIVILEGES[v16(conn)]), role=role)
    rows += conn.run(  # large objects have no has_*_privilege before Postgres 17
        "SELECT 'large object', l.oid::text, g.privilege_type FROM pg_largeobject_metadata l, "
        "aclexplode(coalesce(l.lomacl, acldefault('L', l.lomowner))) g JOIN pg_roles r ON r.oid = g.grantee "
        "WHERE r.rolname = :role", role=role,
    )
    return frozenset(tuple(r) for r in rows)


def default_privileges(conn, definer: str) -> frozenset:
    """Who gets what on a table and a function that `definer` creates now (created, read, dropped)."""
    conn.run("BEGIN")
    try:
        conn.run(f'SET LOCAL ROLE "{definer}"')
        conn.run("CREATE TABLE app_own.probe_t (id int)")
        conn.run("CREATE FUNCTION app_own.probe_f() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        conn.run("RESET ROLE")
        rows = conn.run(
            "SELECT 'table', r.rolname, p FROM pg_roles r, unnest(array['SELECT', 'INSERT', 'INSERT WITH GRANT OPTION']) p "
            "WHERE r.rolname IN ('reporting', 'readers', 'migrator') AND has_table_privilege(r.oid, 'app_own.probe_t', p) "
            "UNION ALL SELECT 'function', r.rolname, 'EXECUTE' FROM pg_roles r "
            "WHERE r.rolname IN ('reporting', 'readers', 'migrator') "
            "AND has_function_privilege(r.oid, 'app_own.probe_f()', 'EXECUTE')"
        )
    finally:
        conn.run("ROLLBACK")
    return frozenset(tuple(r) for r in rows)
