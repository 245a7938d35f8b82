"""Postgres rotations against a real server: single user and alternating users, happy paths and the
template bugs they must not repeat."""

from __future__ import annotations

import json

import pytest

from rotation import postgres_alternating, postgres_single
from rotation.postgres_alternating import mirror_plan
from rotation.steps import RotationError
from tests.rotation import pgstate
from tests.rotation.conftest import INITIAL, assert_nothing_leaked
from tests.rotation.driver import CURRENT, PENDING, PREVIOUS, Driver


def value(sm, name, stage=CURRENT) -> dict:
    return json.loads(sm.get_secret_value(SecretId=name, VersionStage=stage)["SecretString"])


@pytest.fixture
def single(aws, db):
    aws.create_secret(Name="app-db", SecretString=json.dumps(db.secret()))
    return Driver(aws, "app-db", postgres_single.handler)


@pytest.fixture
def alternating(aws, db):
    aws.create_secret(Name="master", SecretString=json.dumps(db.master()))
    aws.create_secret(Name="app-db", SecretString=json.dumps(db.secret(masterarn="master")))
    return Driver(aws, "app-db", postgres_alternating.handler)


def mirrored(db) -> bool:
    admin = db.admin()
    return (pgstate.privileges(admin, pgstate.APP) == pgstate.privileges(admin, pgstate.CLONE)
            and pgstate.default_privileges(admin, pgstate.APP) == pgstate.default_privileges(admin, pgstate.CLONE))


# -- single user ------------------------------------------------------------------------------------

def test_single_user_rotates_its_own_password(single, db, aws, caplog):
    db.proxy.record()
    passwords = [INITIAL]
    for _ in range(2):
        single.start()
        assert single.complete() is None
        passwords.append(value(aws, "app-db")["password"])
    assert db.logs_in(value(aws, "app-db"))
    assert not any(db.logs_in(db.secret(password=p)) for p in passwords[:-1])
    assert single.holder(PENDING) is None
    stored = db.admin().run("SELECT rolpassword FROM pg_authid WHERE rolname = 'app'")[0][0]
    assert stored.startswith("SCRAM-SHA-256$4096:")
    # the new passwords never crossed the wire in clear: only their SCRAM verifiers did
    assert not any(p.encode() in db.proxy.sent for p in passwords[1:])
    assert b"ALTER ROLE" in db.proxy.sent and b"SCRAM-SHA-256$4096:" in db.proxy.sent
    assert_nothing_leaked(caplog.records, [i.error for i in single.log], set(passwords))


def test_a_pending_secret_for_another_target_is_refused(single, db, aws):
    token = single.start()
    forged = db.secret(password="forged-password-0123456789", host="evil.example")
    aws.put_secret_value(SecretId="app-db", ClientRequestToken=token, SecretString=json.dumps(forged),
                         VersionStages=[PENDING])
    single.next = 1
    error = single.step()
    assert isinstance(error, RotationError) and "host" in str(error)
    assert db.logs_in(db.secret())


def test_the_database_holding_the_previous_password_heals(single, db, aws):
    """A value put by hand without changing the database: the next rotation logs in with AWSPREVIOUS."""
    aws.put_secret_value(SecretId="app-db", SecretString=json.dumps(db.secret(password="typed-by-hand-0123456789")))
    assert not db.logs_in(value(aws, "app-db"))
    single.start()
    assert single.complete() is None
    assert db.logs_in(value(aws, "app-db"))


def test_a_late_set_of_an_old_rotation_changes_nothing(single, db, aws):
    old = single.start()
    single.complete()
    single.start()
    single.complete()
    assert single.invoke("setSecret", token=old) is None
    assert db.logs_in(value(aws, "app-db"))


def test_a_refused_password_change_leaves_everything_working(single, db, aws):
    db.refuse_password_changes(pgstate.APP, True)
    single.start()
    assert single.complete(attempts=2) is not None
    assert db.logs_in(value(aws, "app-db")) and single.in_flight() == single.token
    db.refuse_password_changes(pgstate.APP, False)
    single.reattempt()
    assert single.complete() is None
    assert db.logs_in(value(aws, "app-db"))


def test_a_stopped_server_fails_the_step_and_the_rotation_resumes(single, db, aws):
    single.start()
    assert single.step() is None  # createSecret needs no database
    db.server.stop()
    try:
        assert isinstance(single.step(), RotationError)
    finally:
        db.server.start()
    assert single.complete() is None
    assert db.logs_in(value(aws, "app-db"))


# -- alternating users ---------------------------------------------------------------------------------

def test_alternating_users_switch_and_the_clone_mirrors_the_original(alternating, db, aws, caplog):
    users = []
    for _ in range(3):
        alternating.start()
        assert alternating.complete() is None
        current, previous = value(aws, "app-db"), value(aws, "app-db", PREVIOUS)
        users.append(current["username"])
        assert db.logs_in(current) and db.logs_in(previous)  # the other user keeps working until the next rotation
        assert mirrored(db)
    assert users == [pgstate.CLONE, pgstate.APP, pgstate.CLONE]
    assert_nothing_leaked(caplog.records, [i.error for i in alternating.log])


def test_grants_given_or_taken_after_the_first_rotation_follow(alternating, db):
    """Template issue #38: grants made after the clone existed were never copied."""
    alternating.start()
    alternating.complete()
    admin = db.admin()
    admin.run("GRANT DELETE ON shop.orders TO app")
    admin.run("REVOKE SELECT ON shop.audit FROM app")
    admin.run("GRANT migrator TO app")
    admin.run("ALTER ROLE app SET work_mem = '8MB'")
    assert not mirrored(db)
    for _ in range(2):  # whichever user is pending, the clone ends up equal to the original
        alternating.start()
        assert alternating.complete() is None
        assert mirrored(db)


def test_objects_the_clone_created_stay_usable_by_both(alternating, db, aws):
    """Template issues #56 and #175: tables created by the clone were owned by it, the original locked out."""
    alternating.start()
    alternating.complete()
    current = value(aws, "app-db")
    assert current["username"] == pgstate.CLONE
    conn = db.connect_as(current)
    conn.run("CREATE TABLE shop.made_by_clone (id int)")
    conn.run("INSERT INTO shop.made_by_clone VALUES (1)")
    conn.close()
    alternating.start()
    assert alternating.complete() is None
    owner = db.admin().run("SELECT tableowner FROM pg_tables WHERE tablename = 'made_by_clone'")[0][0]
    assert owner == pgstate.APP
    for secret in (value(aws, "app-db"), value(aws, "app-db", PREVIOUS)):
        conn = db.connect_as(secret)
        assert conn.run("SELECT count(*) FROM shop.made_by_clone") == [[1]]
        conn.close()
    assert mirrored(db)


def test_test_secret_fails_while_the_mirror_has_drifted(alternating, db):
    alternating.start()
    for _ in range(2):
        assert alternating.step() is None
    db.admin().run("GRANT TRUNCATE ON shop.orders TO app")
    error = alternating.step()
    assert isinstance(error, RotationError) and "differ" in str(error)
    alternating.reattempt()
    assert alternating.complete() is None and mirrored(db)


def test_a_superuser_is_never_cloned(alternating, db, aws):
    db.admin().run("ALTER ROLE app SUPERUSER")
    alternating.start()
    error = alternating.complete(attempts=1)
    assert isinstance(error, RotationError) and "superuser" in str(error)
    assert not db.admin().run("SELECT 1 FROM pg_roles WHERE rolname = 'app_clone'")


@pytest.mark.parametrize("change,message", [
    ({"masterarn": "another-superuser-secret"}, "masterarn"),
    ({"masterarn": None}, "masterarn"),
    ({"username": "someone_else"}, "username"),
])
def test_alternating_refuses_what_it_may_not_touch(alternating, db, aws, change, message):
    token = alternating.start()
    forged = {**db.secret(masterarn="master", username=pgstate.CLONE), **change}
    forged = {k: v for k, v in forged.items() if v is not None}
    forged["password"] = "forged-password-0123456789"
    aws.put_secret_value(SecretId="app-db", ClientRequestToken=token, SecretString=json.dumps(forged),
                         VersionStages=[PENDING])
    alternating.next = 1
    error = alternating.step()
    assert isinstance(error, RotationError) and message in str(error)


def test_a_master_secret_for_another_server_is_refused(aws, db):
    aws.create_secret(Name="master", SecretString=json.dumps({**db.master(), "port": 1}))
    aws.create_secret(Name="app-db", SecretString=json.dumps(db.secret(masterarn="master")))
    driver = Driver(aws, "app-db", postgres_alternating.handler)
    driver.start()
    error = driver.complete(attempts=1)
    assert isinstance(error, RotationError) and "port" in str(error)


def test_mirror_plan_is_empty_once_applied(alternating, db):
    alternating.start()
    alternating.complete()
    admin = db.admin()
    admin.run("BEGIN")
    try:
        admin.run("SET LOCAL search_path = pg_catalog, pg_temp")
        assert mirror_plan(admin, pgstate.APP, pgstate.CLONE) == []
        admin.run("REVOKE readers FROM app_clone")
        options = " WITH ADMIN TRUE, INHERIT TRUE, SET TRUE" if pgstate.v16(admin) else " WITH ADMIN OPTION"
        assert mirror_plan(admin, pgstate.APP, pgstate.CLONE) == [f'GRANT readers TO "app_clone"{options}']
    finally:
        admin.run("ROLLBACK")


# -- TLS -------------------------------------------------------------------------------------------------

@pytest.fixture
def tls_db(db, postgres_tls, monkeypatch):
    monkeypatch.setenv("PGSSLROOTCERT", str(postgres_tls.ca_file))
    return db


@pytest.mark.parametrize("kind", ["single", "alternating"])
def test_rotation_over_verified_tls(aws, tls_db, kind):
    extra = {"masterarn": "master"} if kind == "alternating" else {}
    aws.create_secret(Name="master", SecretString=json.dumps(tls_db.master()))
    aws.create_secret(Name="app-db", SecretString=json.dumps(tls_db.secret(sslmode="verify-full", **extra)))
    driver = Driver(aws, "app-db", postgres_alternating.handler if extra else postgres_single.handler)
    tls_db.proxy.record()
    driver.start()
    assert driver.complete() is None
    assert tls_db.logs_in(value(aws, "app-db"))
    assert tls_db.proxy.sent and b"ALTER ROLE" not in tls_db.proxy.sent  # every statement went encrypted


def test_an_unverifiable_server_fails_the_step_without_plaintext_fallback(aws, tls_db, monkeypatch):
    monkeypatch.delenv("PGSSLROOTCERT")  # the system trust store does not know the test CA
    aws.create_secret(Name="app-db", SecretString=json.dumps(tls_db.secret(sslmode="verify-full")))
    driver = Driver(aws, "app-db", postgres_single.handler)
    tls_db.proxy.record()
    driver.start()
    assert driver.step() is None
    error = driver.step()
    assert isinstance(error, RotationError) and "SSLCertVerificationError" in str(error)
    assert b"user\x00app" not in tls_db.proxy.sent  # no startup message ever went in clear
    assert tls_db.logs_in(tls_db.secret())  # the password did not change


def test_a_late_set_of_a_superseded_version_still_pending_changes_nothing(single, db, aws):
    """finishSecret killed between its two label moves leaves AWSPENDING on the new current version; an
    operator then puts a value by hand. That version is AWSPREVIOUS and AWSPENDING: never in flight again."""
    token = single.start()
    for _ in range(3):
        assert single.step() is None
    single.step(("kill-after-call", 4))  # after the AWSCURRENT move, before AWSPENDING comes off
    by_hand = {**value(aws, "app-db"), "password": "typed-by-an-operator-0123456789"}
    db.admin().run(f"ALTER ROLE app PASSWORD '{by_hand['password']}'")
    aws.put_secret_value(SecretId="app-db", SecretString=json.dumps(by_hand))
    assert sorted(single.stages()[token]) == [PENDING, PREVIOUS]
    for step in ("setSecret", "finishSecret"):
        assert single.invoke(step, token=token) is None
    assert db.logs_in(value(aws, "app-db")) and single.holder(PENDING) is None
