"""Postgres single-user rotation: the user changes its own password.

Between setSecret and finishSecret the database accepts only the pending password; clients that
retry with a fresh GetSecretValue recover. Use alternating users where that gap matters. Writes
`password` and rebuilds `url`/`dsn`/`connection_string` (rotation/contract.py).

    handler: rotation.postgres_single.handler
    env:     PASSWORD_LENGTH (16..128, default 32), PGSSLROOTCERT (CA bundle), SECRETS_MANAGER_ENDPOINT
"""

from __future__ import annotations

from rotation import postgres as pg
from rotation.steps import PREVIOUS, Kind, Rotation, RotationError, handler_for


class SingleUser(Kind):
    name = "postgres-single"

    def create(self, rot: Rotation, current: dict) -> dict:
        pg.target(current)
        user, _ = pg.credentials(current, "AWSCURRENT")
        return pg.with_credentials(current, user, rot.random(pg.password_length()))

    def set(self, rot: Rotation, current: dict, pending: dict) -> None:
        user = current.get("username")
        where = pg.check_pending(current, pending, user)
        conn = pg.login(where, pending, "pending")
        if conn is not None:  # already set, by an earlier attempt or a concurrent one
            with pg.closing(conn):
                return
        conn = pg.login(where, current, "AWSCURRENT") or self._previous(rot, where, user)
        if conn is None:
            raise RotationError("neither the AWSCURRENT nor the AWSPREVIOUS credentials log in")
        with pg.closing(conn), pg.transaction(conn, user):
            # Under the lock: a late duplicate of this step must not overwrite a newer rotation's password.
            if not rot.still_in_flight():
                raise RotationError("the version is no longer in flight; the password stays as it is")
            pg.set_password(conn, user, pending["password"])

    @staticmethod
    def _previous(rot: Rotation, where: pg.Target, user: str):
        """The database may still hold AWSPREVIOUS (a value put by hand without changing the database).
        Only its password is used: host, port, TLS and dbname stay AWSCURRENT's."""
        previous = rot.value(PREVIOUS)
        if previous is None or previous.get("username") != user:
            return None
        return pg.login(where, previous, "AWSPREVIOUS")

    def test(self, rot: Rotation, pending: dict) -> None:
        pg.check_connection_strings(pending, "pending")
        pg.check_login(pg.target(pending), pending, "pending")

    def finish(self, rot: Rotation, current: dict, pending: dict) -> None:
        self.test(rot, pending)  # never promote a password the database does not accept


handler = handler_for(SingleUser())
