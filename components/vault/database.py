"""The database secrets engine for PostgreSQL: short-lived users that get exactly the declared grants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_vault as vault

PLUGIN = "postgresql-database-plugin"
# Explicitly none of the powers a leaked credential could escalate with.
ROLE_ATTRIBUTES = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


@dataclass(frozen=True)
class TableGrant:
    privileges: Sequence[str]
    schema: str
    tables: str | Sequence[str]  # "all" or table names
    sequences: bool = False


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def creation_statements(grants: Sequence[TableGrant]) -> list[str]:
    statements = [
        f"CREATE ROLE \"{{{{name}}}}\" WITH LOGIN PASSWORD '{{{{password}}}}' VALID UNTIL '{{{{expiration}}}}' {ROLE_ATTRIBUTES};"
    ]
    for grant in grants:
        schema = _ident(grant.schema)
        target = (
            f"ALL TABLES IN SCHEMA {schema}"
            if grant.tables == "all"
            else ", ".join(f"{schema}.{_ident(t)}" for t in grant.tables)
        )
        statements.append(f'GRANT USAGE ON SCHEMA {schema} TO "{{{{name}}}}";')
        statements.append(f'GRANT {", ".join(grant.privileges)} ON {"" if grant.tables == "all" else "TABLE "}{target} TO "{{{{name}}}}";')
        if grant.sequences:
            statements.append(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO "{{{{name}}}}";')
    return statements


def revocation_statements(grants: Sequence[TableGrant]) -> list[str]:
    statements = []
    for schema in sorted({_ident(g.schema) for g in grants}):
        statements += [
            f'REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA {schema} FROM "{{{{name}}}}";',
            f'REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA {schema} FROM "{{{{name}}}}";',
            f'REVOKE USAGE ON SCHEMA {schema} FROM "{{{{name}}}}";',
        ]
    return statements + ['DROP ROLE IF EXISTS "{{name}}";']


@dataclass(frozen=True)
class DatabaseRole:
    name: str
    default_ttl_seconds: int
    max_ttl_seconds: int
    grants: Sequence[TableGrant]


@dataclass(frozen=True)
class PostgresEngineArgs:
    mount: pulumi.Input[str]
    host: str
    port: int
    database: str
    username: str
    password: pulumi.Input[str]
    ssl_mode: str
    roles: Sequence[DatabaseRole]
    root_rotation_period_seconds: int | None = None


class PostgresEngine(pulumi.ComponentResource):
    """One PostgreSQL connection of a database engine mount, and its roles."""

    def __init__(self, name: str, args: PostgresEngineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:vault:PostgresEngine", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.connection = vault.database.SecretBackendConnection(
            f"{name}-connection",
            backend=args.mount,
            name=name,
            plugin_name=PLUGIN,
            allowed_roles=[role.name for role in args.roles],
            verify_connection=True,
            rotation_period=args.root_rotation_period_seconds,
            postgresql=vault.database.SecretBackendConnectionPostgresqlArgs(
                connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@{args.host}:{args.port}/{args.database}?sslmode={args.ssl_mode}",
                username=args.username,
                # Write-only and sent once: Vault rotates the root password after setup, and a later
                # `pulumi up` must not put the old one back.
                password_wo=pulumi.Output.secret(args.password),
                password_wo_version=1,
                password_authentication="scram-sha-256",
            ),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(ignore_changes=["postgresql.passwordWo", "postgresql.passwordWoVersion"])),
        )
        self.roles = {
            role.name: vault.database.SecretBackendRole(
                f"{name}-{role.name}",
                backend=args.mount,
                name=role.name,
                db_name=self.connection.name,
                creation_statements=creation_statements(role.grants),
                revocation_statements=revocation_statements(role.grants),
                default_ttl=role.default_ttl_seconds,
                max_ttl=role.max_ttl_seconds,
                opts=child,
            )
            for role in args.roles
        }
        self.connection_name = self.connection.name
        self.register_outputs({"connection_name": self.connection_name, "role_names": list(self.roles)})


class DatabaseMount(pulumi.ComponentResource):
    """The `database` secrets engine mount shared by the connections declared on it."""

    def __init__(self, name: str, path: str, protect: bool, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:vault:DatabaseMount", name, None, opts)
        mount = vault.Mount(
            f"{name}-mount",
            path=path,
            type="database",
            description="Dynamic database credentials managed by secrets-platform",
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        self.path = mount.path
        self.register_outputs({"path": self.path})
