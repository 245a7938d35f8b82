"""The shape contract: what each rotation kind writes, the spec-side check, and every consumer view of a
rotated database secret logging in on real PostgreSQL, by URL, by DSN and by parts."""

from __future__ import annotations

import json

import pytest

from rotation import conninfo, contract, generic, postgres_alternating, postgres_single
from rotation.contract import Problem
from rotation.steps import RotationError
from tests.rotation import consumers
from tests.rotation.conftest import INITIAL, assert_nothing_leaked
from tests.rotation.driver import CURRENT, PREVIOUS, Driver

PG_PARTS = ["username", "password", "host", "port", "dbname"]


# -- the spec-side check (pure) ------------------------------------------------------------------------

def test_the_seed_shapes_that_work_have_no_problems():
    # EONPRO's database (DATABASE_URL beside the parts) and Autolytiq's "credentials with connection URL"
    assert contract.problems("postgres-single", {}, ["url", *PG_PARTS], {"api": ["url"], "worker": PG_PARTS}) == []
    assert contract.problems("postgres-alternating", {}, [*PG_PARTS, "url", "dsn", "sslmode"], {"eso": ["url", "dsn"]}) == []
    # EONPRO's JWT_SECRET, rotated under its own name, the overlap list mapped beside it
    assert contract.problems("generic", {"property": "jwt_secret"}, ["jwt_secret", "jwt_secret_previous"],
                             {"eso": ["jwt_secret", "jwt_secret_previous"]}) == []
    # today's generic secrets keep working: no properties (the value read whole), or value/previous
    assert contract.problems("generic", {}, [], {"app": []}) == []
    assert contract.problems("generic", {}, ["value", "previous"], {"app": ["value"]}) == []
    # metadata beside a generic value is carried over, not stale
    assert contract.problems("generic", {"property": "secret"}, ["secret", "issuer"], {}) == []
    assert contract.problems("manual", {}, ["password", "url"], {"app": ["url"]}) == []


def test_a_generic_rotation_that_would_leave_the_declared_property_stale():
    found = contract.problems("generic", {}, ["jwt_secret"], {"eso": ["jwt_secret"]})
    assert found == [Problem(("rotation", "property"), "generic rotation writes 'value', which the secret does not "
                                                       "declare (declared: jwt_secret); set property: jwt_secret")]
    found = contract.problems("generic", {"property": "jwt"}, ["jwt_secret"], {})
    assert [p.where for p in found] == [("rotation", "property")] and "'jwt'" in found[0].message


def test_a_postgres_property_the_rotation_does_not_rebuild_is_stale():
    found = contract.problems("postgres-single", {}, [*PG_PARTS, "jdbc_url"], {})
    assert [p.where for p in found] == [("properties", 5)]
    assert "'jdbc_url' would go stale" in found[0].message and "rebuilds url, dsn, connection_string" in found[0].message


def test_consumer_keys_must_be_declared():
    found = contract.problems("postgres-single", {}, PG_PARTS, {"eso-api": ["url"], "worker": ["username"]})
    assert found == [Problem(("consumers", "eso-api", "url"), "reads 'url', which the secret does not declare "
                                                              "(declared: username, password, host, port, dbname)")]
    found = contract.problems("generic", {}, [], {"app": ["token"]})
    assert found[0].where == ("consumers", "app", "token") and "none, the value is read whole" in found[0].message


def test_property_is_only_for_generic_and_must_be_a_name():
    assert [p.where for p in contract.problems("postgres-single", {"property": "url"}, [], {})] == [("rotation", "property")]
    assert [p.where for p in contract.problems("generic", {"property": "a b"}, [], {})] == [("rotation", "property")]


# -- connection strings ---------------------------------------------------------------------------------

def test_a_url_is_rebuilt_percent_encoded_with_its_query_kept():
    old = "postgresql://app:old@db.internal:6432/shop?sslmode=verify-full&application_name=api&target_session_attrs=read-write"
    new = conninfo.rebuild("url", old, "o.hara@corp:x/y z", "p@ss:w/o%rd?#", "db.internal", 6432, "shop")
    assert new.startswith("postgresql://o.hara%40corp%3Ax%2Fy%20z:p%40ss%3Aw%2Fo%25rd%3F%23@db.internal:6432/shop?")
    login = consumers.from_url(new)
    assert (login.user, login.password, login.host, login.port, login.dbname, login.sslmode) == (
        "o.hara@corp:x/y z", "p@ss:w/o%rd?#", "db.internal", 6432, "shop", "verify-full")
    assert new.endswith("?sslmode=verify-full&application_name=api&target_session_attrs=read-write")


def test_a_libpq_dsn_keeps_every_other_pair_in_order():
    old = "host=db.internal port=5432 dbname=shop user=app password='old pw' sslmode=require connect_timeout=5"
    new = conninfo.rebuild("dsn", old, "app", "it's \\new", "db.internal", 5432, "shop")
    assert new == r"host=db.internal port=5432 dbname=shop user=app password='it\'s \\new' sslmode=require connect_timeout=5"
    assert conninfo.rebuild("dsn", "host=db dbname=shop", "app", "pw", "db", 5432, "shop") == "host=db dbname=shop user=app password=pw"


@pytest.mark.parametrize("text", ["postgresql://app:pw@elsewhere:5432/shop", "postgresql://app:pw@db:5433/shop",
                                  "postgres://app:pw@db/other", "host=elsewhere dbname=shop", "host=db port=x",
                                  "jdbc:postgresql://db/shop", "host=db 'broken"])
def test_a_string_naming_another_server_or_unreadable_stops_the_rotation(text):
    with pytest.raises(RotationError) as error:
        conninfo.rebuild("url", text, "app", "pw", "db", 5432, "shop")
    assert "pw" not in str(error.value)


# -- real rotations: every consumer view logs in after every rotation ------------------------------------

def run_rotations(driver, sm, n: int):
    """Each new AWSCURRENT, yielded as soon as its rotation completes."""
    for _ in range(n):
        driver.start()
        assert driver.complete() is None
        yield json.loads(sm.get_secret_value(SecretId=driver.arn)["SecretString"])


def assert_views_log_in(secret: dict) -> None:
    for name, login in consumers.views(secret).items():
        assert consumers.same_server(secret, login), f"{name} names another server than the parts"
        assert consumers.logs_in(login), f"{name} is locked out"


@pytest.mark.drill
@pytest.mark.parametrize("kind", ["postgres-single", "postgres-alternating"])
def test_every_consumer_view_logs_in_after_every_rotation(aws, db, caplog, kind):
    consumers.check_declared(kind)
    first = consumers.with_strings(db.secret())
    if kind == "postgres-alternating":
        aws.create_secret(Name="master", SecretString=json.dumps(db.master()))
        first["masterarn"] = "master"
    aws.create_secret(Name="app-db", SecretString=json.dumps(first))
    handler = postgres_single.handler if kind == "postgres-single" else postgres_alternating.handler
    driver = Driver(aws, "app-db", handler)
    assert_views_log_in(first)
    users = set()
    for version in run_rotations(driver, aws, 3):
        users.add(version["username"])
        assert_views_log_in(version)
        assert version["url"].endswith("/rotation?sslmode=disable&application_name=consumer")
        if kind == "postgres-alternating":  # the previous user's views keep working until the next rotation
            assert_views_log_in(json.loads(aws.get_secret_value(SecretId="app-db", VersionStage=PREVIOUS)["SecretString"]))
    assert users == ({"app"} if kind == "postgres-single" else {"app", "app_clone"})
    assert_nothing_leaked(caplog.records, [i.error for i in driver.log])


def test_a_username_that_needs_encoding_logs_in_by_url(aws, db):
    user = "o.hara@corp:x/y z"
    db.admin().run(f"DROP ROLE IF EXISTS \"{user}\"")
    db.admin().run(f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{INITIAL}'")
    try:
        aws.create_secret(Name="odd", SecretString=json.dumps(consumers.with_strings(db.secret(username=user))))
        [version] = run_rotations(Driver(aws, "odd", postgres_single.handler), aws, 1)
        assert "o.hara%40corp%3Ax%2Fy%20z:" in version["url"]
        assert_views_log_in(version)
    finally:
        db.admin().run(f"DROP ROLE IF EXISTS \"{user}\"")


def test_a_stale_url_is_healed_by_the_next_rotation(aws, db):
    stale = {**consumers.with_strings(db.secret()), "url": consumers.with_strings(db.secret(password="stale-0123456789"))["url"]}
    aws.create_secret(Name="app-db", SecretString=json.dumps(stale))
    [version] = run_rotations(Driver(aws, "app-db", postgres_single.handler), aws, 1)
    assert_views_log_in(version)


def test_a_url_pointing_elsewhere_stops_the_rotation_before_the_password_changes(aws, db):
    secret = {**db.secret(), "url": f"postgresql://app:{INITIAL}@10.9.9.9:5432/rotation"}
    aws.create_secret(Name="app-db", SecretString=json.dumps(secret))
    driver = Driver(aws, "app-db", postgres_single.handler)
    driver.start()
    error = driver.step()
    assert isinstance(error, RotationError) and "another host, port or dbname" in str(error)
    assert db.logs_in(db.secret()) and driver.holder(CURRENT) != driver.token


def test_a_pending_version_whose_url_lost_its_password_is_never_promoted(aws, db):
    aws.create_secret(Name="app-db", SecretString=json.dumps(consumers.with_strings(db.secret())))
    driver = Driver(aws, "app-db", postgres_single.handler)
    token = driver.start()
    broken = {**consumers.with_strings(db.secret(password="pending-0123456789abcdef"))}
    broken["url"] = consumers.with_strings(db.secret())["url"]  # the old password in the URL
    aws.put_secret_value(SecretId="app-db", ClientRequestToken=token, SecretString=json.dumps(broken), VersionStages=["AWSPENDING"])
    assert driver.complete(attempts=1) is not None
    assert driver.holder(CURRENT) != token and db.logs_in(db.secret())


@pytest.mark.drill
def test_generic_rotates_the_named_property_and_keeps_its_overlap_beside_it(aws, monkeypatch, clock):
    monkeypatch.setenv("OVERLAP_SECONDS", "3600")
    monkeypatch.setenv(contract.PROPERTY_ENV, "jwt_secret")
    assert contract.problems("generic", {"property": "jwt_secret"}, ["jwt_secret", "jwt_secret_previous", "issuer"],
                             {"eso": ["jwt_secret", "jwt_secret_previous"]}) == []
    first = "first-jwt-secret-0123456789abcdef"
    aws.create_secret(Name="auth", SecretString=json.dumps({"jwt_secret": first, "issuer": "eonpro"}))
    [version] = run_rotations(Driver(aws, "auth", generic.handler), aws, 1)
    assert set(version) == {"jwt_secret", "jwt_secret_previous", "issuer"} and version["issuer"] == "eonpro"
    assert version["jwt_secret"] != first and len(version["jwt_secret"]) == 64
    assert version["jwt_secret_previous"] == [{"value": first, "expires_at": int(clock.now) + 3600 + generic.GRACE_SECONDS}]


def test_generic_refuses_a_bad_property_name(aws, monkeypatch):
    monkeypatch.setenv("OVERLAP_SECONDS", "60")
    monkeypatch.setenv(contract.PROPERTY_ENV, "no spaces")
    aws.create_secret(Name="auth", SecretString=json.dumps({"value": "first-value-0123456789"}))
    driver = Driver(aws, "auth", generic.handler)
    driver.start()
    error = driver.step()
    assert isinstance(error, RotationError) and contract.PROPERTY_ENV in str(error)
