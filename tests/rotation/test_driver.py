"""The test-side service is only as good as its fidelity: each correction of moto, and the driver's
contract (one rotation in flight, labels moved only by finishSecret, faults applied as declared)."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from rotation import steps
from tests.rotation.driver import CURRENT, PENDING, PREVIOUS, Driver, LambdaCrash, RotationInProgress, faithful

TOKEN = "00000000-0000-4000-8000-000000000001"


def labels(sm, name):
    return sm.describe_secret(SecretId=name)["VersionIdsToStages"]


def test_put_with_a_used_token_and_another_value_is_refused(aws):
    aws.create_secret(Name="s", SecretString="one")
    aws.put_secret_value(SecretId="s", ClientRequestToken=TOKEN, SecretString="two", VersionStages=[PENDING])
    aws.put_secret_value(SecretId="s", ClientRequestToken=TOKEN, SecretString="two", VersionStages=[PENDING])  # idempotent
    with pytest.raises(ClientError) as err:
        aws.put_secret_value(SecretId="s", ClientRequestToken=TOKEN, SecretString="three", VersionStages=[PENDING])
    assert err.value.response["Error"]["Code"] == "ResourceExistsException"
    assert aws.get_secret_value(SecretId="s", VersionId=TOKEN)["SecretString"] == "two"


def test_plain_moto_overwrites_a_pending_version(monkeypatch):
    """Why faithful() exists: without it a second createSecret silently replaces the first value."""
    from moto import mock_aws
    import boto3

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        sm = boto3.client("secretsmanager")
        sm.create_secret(Name="s", SecretString="one")
        sm.put_secret_value(SecretId="s", ClientRequestToken=TOKEN, SecretString="two", VersionStages=[PENDING])
        sm.put_secret_value(SecretId="s", ClientRequestToken=TOKEN, SecretString="three", VersionStages=[PENDING])
        assert sm.get_secret_value(SecretId="s", VersionId=TOKEN)["SecretString"] == "three"


def test_put_moves_only_the_labels_it_names(aws):
    first = aws.create_secret(Name="s", SecretString="one")["VersionId"]
    aws.update_secret_version_stage(SecretId="s", VersionStage=PENDING, MoveToVersionId=first)
    second = aws.put_secret_value(SecretId="s", SecretString="two")["VersionId"]
    assert sorted(labels(aws, "s")[first]) == [PENDING, PREVIOUS]
    assert labels(aws, "s")[second] == [CURRENT]
    assert aws.get_secret_value(SecretId="s")["SecretString"] == "two"


def test_a_label_held_elsewhere_moves_only_when_its_holder_is_named(aws):
    first = aws.create_secret(Name="s", SecretString="one")["VersionId"]
    second = aws.put_secret_value(SecretId="s", SecretString="two", VersionStages=["X"])["VersionId"]
    with pytest.raises(ClientError):
        aws.update_secret_version_stage(SecretId="s", VersionStage=CURRENT, MoveToVersionId=second)
    with pytest.raises(ClientError):
        aws.update_secret_version_stage(SecretId="s", VersionStage=CURRENT, MoveToVersionId=second, RemoveFromVersionId=second)
    aws.update_secret_version_stage(SecretId="s", VersionStage=CURRENT, MoveToVersionId=second, RemoveFromVersionId=first)
    assert aws.get_secret_value(SecretId="s")["SecretString"] == "two"  # the default version follows AWSCURRENT
    assert labels(aws, "s") == {first: [PREVIOUS], second: ["X", CURRENT]}
    aws.update_secret_version_stage(SecretId="s", VersionStage="X", RemoveFromVersionId=second)
    aws.update_secret_version_stage(SecretId="s", VersionStage=PREVIOUS, RemoveFromVersionId=first)
    assert first not in labels(aws, "s")  # a version without labels is not listed


def handler(event, context):
    return steps.run(Noop(), event)


class Noop(steps.Kind):
    name = "noop"

    def create(self, rot, current):
        return {**current, "n": current.get("n", 0) + 1}


def test_a_rotation_is_refused_while_another_is_in_flight(aws):
    aws.create_secret(Name="s", SecretString=json.dumps({"n": 0}))
    driver = Driver(aws, "s", handler)
    token = driver.start()
    assert aws.describe_secret(SecretId="s")["RotationEnabled"]
    with pytest.raises(ClientError) as err:  # the new version is empty, as AWS leaves it
        aws.get_secret_value(SecretId="s", VersionId=token, VersionStage=PENDING)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(RotationInProgress):
        driver.start()
    assert driver.complete() is None
    # finishSecret left AWSPENDING nowhere; a rotation may start again
    assert driver.holder(PENDING) is None and driver.holder(CURRENT) == token
    driver.start()


def test_a_rotation_may_start_when_pending_sits_on_the_current_version(aws):
    first = aws.create_secret(Name="s", SecretString=json.dumps({"n": 0}))["VersionId"]
    aws.update_secret_version_stage(SecretId="s", VersionStage=PENDING, MoveToVersionId=first)
    token = Driver(aws, "s", handler).start()
    assert labels(aws, "s")[first] == [CURRENT] and labels(aws, "s")[token] == [PENDING]


def test_the_driver_catches_labels_moved_outside_finish(aws):
    aws.create_secret(Name="s", SecretString=json.dumps({"n": 0}))

    def rogue(event, context):
        handler(event, context)
        if event["Step"] == "setSecret":
            aws.update_secret_version_stage(SecretId="s", VersionStage="ROGUE", MoveToVersionId=event["ClientRequestToken"])

    driver = Driver(aws, "s", rogue)
    driver.start()
    driver.step()
    with pytest.raises(AssertionError, match="setSecret moved staging labels"):
        driver.step()


def test_faults_fire_where_declared(aws):
    aws.create_secret(Name="s", SecretString=json.dumps({"n": 0}))
    driver = Driver(aws, "s", handler)
    token = driver.start()
    assert isinstance(driver.step("before"), LambdaCrash)
    assert aws.list_secret_version_ids(SecretId="s")  # nothing stored
    with pytest.raises(ClientError):
        aws.get_secret_value(SecretId="s", VersionId=token, VersionStage=PENDING)
    # killed right after PutSecretValue, its 4th call: the value is stored, the step reported failed
    assert isinstance(driver.step(("kill-after-call", 4)), LambdaCrash) and driver.next == 0
    assert json.loads(aws.get_secret_value(SecretId="s", VersionId=token)["SecretString"]) == {"n": 1}
    assert isinstance(driver.step("after"), LambdaCrash)
    assert driver.step() is None and driver.next == 1  # the retry finds the value and succeeds
    assert driver.complete() is None
    assert driver.holder(CURRENT) == token


def test_a_late_step_of_a_finished_rotation_changes_nothing(aws):
    aws.create_secret(Name="s", SecretString=json.dumps({"n": 0}))
    driver = Driver(aws, "s", handler)
    old = driver.start()
    driver.complete()
    driver.start()
    driver.complete()
    before = driver.stages()
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        assert driver.invoke(step, token=old) is None
    assert driver.stages() == before
    assert driver.invoke("setSecret", token=str(uuid.uuid4())) is not None  # not a version at all


def test_faithful_restores_moto(aws):
    from moto.secretsmanager import models

    patched = models.SecretsManagerBackend.put_secret_value
    with faithful():
        pass
    assert models.SecretsManagerBackend.put_secret_value is patched  # nested use restores the outer patch
