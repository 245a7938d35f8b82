"""Generic secrets: a fresh URL-safe value each rotation, every replaced value accepted for its overlap."""

from __future__ import annotations

import json

import pytest

from rotation import generic
from rotation.steps import SAFE_ALPHABET, RotationError
from tests.rotation.conftest import assert_nothing_leaked
from tests.rotation.driver import CURRENT, PENDING, Driver

HOUR = 3600
FIRST = "first-api-key-0123456789abcdef"


def accepts(secret: dict, value: str, now: float) -> bool:
    """The consumer check a service runs against AWSCURRENT."""
    return secret["value"] == value or any(e["value"] == value and now < e["expires_at"] for e in secret.get("previous", []))


@pytest.fixture
def secret(aws, monkeypatch, clock):
    monkeypatch.setenv("OVERLAP_SECONDS", str(HOUR))
    aws.create_secret(Name="jwt", SecretString=json.dumps({"value": FIRST, "issuer": "eonpro"}))
    return Driver(aws, "jwt", generic.handler)


def current(driver) -> dict:
    return json.loads(driver.sm.get_secret_value(SecretId="jwt")["SecretString"])


def test_rotation_keeps_the_old_value_for_the_overlap(secret, clock, caplog):
    secret.start()
    assert secret.complete() is None
    now = current(secret)
    assert now["value"] != FIRST and SAFE_ALPHABET.issuperset(now["value"]) and len(now["value"]) == 64
    assert now["issuer"] == "eonpro"  # other keys carried over
    assert accepts(now, FIRST, clock.now) and accepts(now, FIRST, clock.now + HOUR)
    assert not accepts(now, FIRST, clock.now + HOUR + generic.GRACE_SECONDS)
    assert_nothing_leaked(caplog.records, [i.error for i in secret.log], {FIRST})


def test_rotations_within_an_overlap_keep_every_unexpired_value(secret, clock):
    seen = [FIRST]
    for _ in range(3):
        secret.start()
        assert secret.complete() is None
        seen.append(current(secret)["value"])
        clock.jump(600)
    assert all(accepts(current(secret), value, clock.now) for value in seen)
    clock.jump(2 * HOUR)
    secret.start()
    secret.complete()
    assert [e["value"] for e in current(secret)["previous"]] == [seen[-1]]  # expired ones dropped


def test_zero_overlap_keeps_nothing(secret, monkeypatch):
    monkeypatch.setenv("OVERLAP_SECONDS", "0")
    secret.start()
    secret.complete()
    assert current(secret)["previous"] == []


def test_a_pending_value_too_old_to_keep_its_promise_is_abandoned(secret, clock):
    token = secret.start()
    secret.step()
    secret.step()
    secret.step()
    clock.jump(HOUR)  # createSecret promised FIRST until now + overlap + grace: no longer enough
    error = secret.step()
    assert isinstance(error, RotationError) and "abandoned" in str(error)
    assert current(secret)["value"] == FIRST and secret.holder(PENDING) is None
    assert secret.stages().get(token) == []
    secret.start()  # the next rotation starts afresh and keeps the promise
    assert secret.complete() is None
    assert accepts(current(secret), FIRST, clock.now + HOUR)


@pytest.mark.drill
def test_a_value_put_by_hand_during_a_rotation_is_never_cut_short(secret, clock, aws):
    secret.start()
    secret.step()
    manual = {"value": "put-by-an-operator-0123456789", "previous": [{"value": FIRST, "expires_at": int(clock.now) + HOUR}]}
    aws.put_secret_value(SecretId="jwt", SecretString=json.dumps(manual))
    assert secret.complete(attempts=1) is not None  # the pending value does not carry the manual one
    assert current(secret)["value"] == manual["value"]
    secret.start()
    assert secret.complete() is None
    assert accepts(current(secret), manual["value"], clock.now + HOUR)
    assert accepts(current(secret), FIRST, clock.now + HOUR - 1)


def test_overlap_must_be_declared(secret, monkeypatch):
    monkeypatch.delenv("OVERLAP_SECONDS")
    secret.start()
    error = secret.step()
    assert isinstance(error, RotationError) and "OVERLAP_SECONDS" in str(error)
    assert secret.holder(CURRENT) != secret.token


@pytest.mark.parametrize("bad", ['"malformed: a bare string"', '{"value": 7, "note": "malformed"}',
                                 '{"value": "malformed-1", "previous": [{"value": "malformed-2"}]}', "malformed, not JSON"])
def test_malformed_secrets_stop_the_rotation(aws, monkeypatch, bad):
    monkeypatch.setenv("OVERLAP_SECONDS", "60")
    aws.create_secret(Name="bad", SecretString=bad)
    driver = Driver(aws, "bad", generic.handler)
    driver.start()
    error = driver.step()
    assert isinstance(error, RotationError) and "malformed" not in str(error)
    assert driver.holder(CURRENT) != driver.token
