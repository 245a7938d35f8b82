"""Secrets Manager's side of rotation, as AWS documents it, over moto's API, calling handlers in-process.

moto's own rotate_secret is not used: it invokes the four steps blindly and then moves AWSCURRENT
itself, whatever finishSecret did, and it refuses a new rotation exactly when AWS allows one (AWSPENDING
on the AWSCURRENT version). `faithful()` also corrects moto's staging model where it differs from AWS
in ways that hide rotation bugs:

- PutSecretValue with a token that already has a different value fails with ResourceExistsException
  (moto overwrites an AWSPENDING version silently, hiding two concurrent createSecret);
- PutSecretValue moves only the labels it names (moto rewrites the old current version's labels to
  just AWSPREVIOUS, dropping e.g. its AWSPENDING), and AWSCURRENT moves carry AWSPREVIOUS along;
- UpdateSecretVersionStage refuses to move a label held by another version unless RemoveFromVersionId
  names that version, never duplicates a label, and keeps the default version in step with
  AWSCURRENT (moto's unqualified GetSecretValue would return a stale version);
- DescribeSecret lists only versions that carry a label;
- calls are serialized, as the service does per secret (moto is not thread-safe).

The Driver is the service: RotateSecret (refused while a rotation is in flight, else a fresh token and
an empty AWSPENDING version), steps invoked in order with a fake Lambda context, a failed step
retried, a failed rotation reattempted later with the same token from createSecret, labels checked
to move only in finishSecret. Faults are injected around or inside an invocation.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from moto.core import DEFAULT_ACCOUNT_ID
from moto.secretsmanager import models
from moto.secretsmanager.exceptions import InvalidParameterException, ResourceExistsException

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
_LOCK = threading.RLock()


class LambdaCrash(BaseException):
    """The invocation died (timeout, out of memory, host lost): the service sees a failed step.
    A BaseException, so no `except Exception` in a handler can survive it, as no code survives a kill."""


def _holder(secret, label: str) -> str | None:
    return next((v for v, ver in secret.versions.items() if label in ver["version_stages"]), None)


def _attach(secret, label: str, version_id: str) -> None:
    """Move `label` to `version_id`; moving AWSCURRENT takes AWSPREVIOUS to the version it left."""
    old = _holder(secret, label)
    if old == version_id:
        return
    if old is not None:
        secret.versions[old]["version_stages"].remove(label)
    secret.versions[version_id]["version_stages"].append(label)
    if label == CURRENT:
        secret.default_version_id = version_id
        if old is not None:
            _attach(secret, PREVIOUS, old)
        elif PREVIOUS in secret.versions[version_id]["version_stages"]:
            secret.versions[version_id]["version_stages"].remove(PREVIOUS)


def _put_secret_value(self, secret_id, secret_string, secret_binary, client_request_token, version_stages):
    secret = self.describe_secret(secret_id)
    token = client_request_token or str(uuid.uuid4())
    existing = secret.versions.get(token)
    if existing is not None and ("secret_string" in existing or "secret_binary" in existing):
        if existing.get("secret_string") == secret_string and existing.get("secret_binary") == secret_binary:
            return secret.to_short_dict(include_version_stages=True, version_id=token)
        raise ResourceExistsException(
            f"You can't use ClientRequestToken {token} because that value is already in use for a version of secret {secret.arn}."
        )
    version = existing or {"version_id": token, "createdate": int(time.time()), "version_stages": []}
    for key, value in (("secret_string", secret_string), ("secret_binary", secret_binary)):
        if value is not None:
            version[key] = value
    secret.versions[token] = version
    for label in version_stages or [CURRENT]:
        _attach(secret, label, token)
    secret.last_changed_date = int(time.time())
    return secret.to_short_dict(include_version_stages=True, version_id=token)


def _update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
    secret = self.describe_secret(secret_id)
    holder = _holder(secret, version_stage)
    for version_id in (remove_from_version_id, move_to_version_id):
        if version_id and version_id not in secret.versions:
            raise InvalidParameterException(f"Not a valid version: {version_id}")
    if remove_from_version_id and remove_from_version_id != holder:
        raise InvalidParameterException(
            f"When you move staging label {version_stage}, RemoveFromVersionId must be the version that has it."
        )
    if move_to_version_id:
        if holder not in (None, move_to_version_id) and not remove_from_version_id:
            raise InvalidParameterException(
                f"Staging label {version_stage} is attached to version {holder}; name it in RemoveFromVersionId."
            )
        _attach(secret, version_stage, move_to_version_id)
    elif holder is not None:
        if version_stage == CURRENT:
            raise InvalidParameterException("AWSCURRENT can only be moved, not removed.")
        secret.versions[holder]["version_stages"].remove(version_stage)
    return secret.arn, secret.name


def _locked(method: Callable) -> Callable:
    def call(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    return call


@contextlib.contextmanager
def faithful():
    backend, secret_cls = models.SecretsManagerBackend, models.FakeSecret
    saved = {name: getattr(backend, name) for name in
             ("put_secret_value", "update_secret_version_stage", "get_secret_value", "describe_secret", "get_random_password")}
    saved_form = secret_cls._form_version_ids_to_stages
    backend.put_secret_value = _locked(_put_secret_value)
    backend.update_secret_version_stage = _locked(_update_secret_version_stage)
    for name in ("get_secret_value", "describe_secret", "get_random_password"):
        setattr(backend, name, _locked(saved[name]))
    secret_cls._form_version_ids_to_stages = lambda self: {
        v: list(ver["version_stages"]) for v, ver in self.versions.items() if ver["version_stages"]
    }
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(backend, name, method)
        secret_cls._form_version_ids_to_stages = saved_form


@dataclass
class FakeContext:
    function_name: str = "secrets-platform-rotation"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/secrets-platform-rotation"
    log_stream_name: str = "2025/01/01/[$LATEST]test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass
class Invocation:
    step: str
    token: str
    fault: Any
    error: BaseException | None


class RotationInProgress(Exception):
    """RotateSecret while AWSPENDING is on a version other than AWSCURRENT's."""


class Driver:
    def __init__(self, sm, secret_id: str, handler: Callable, region: str = "us-east-1"):
        self.sm, self.handler = sm, handler
        self.secret = models.secretsmanager_backends[DEFAULT_ACCOUNT_ID][region].describe_secret(secret_id)
        self.arn = self.secret.arn
        self.token: str | None = None  # the rotation this driver is working on
        self.next = 0  # index of its next step
        self.log: list[Invocation] = []

    # -- the service's view of the secret ---------------------------------------------------------
    def stages(self) -> dict[str, list[str]]:
        with _LOCK:
            return {v: list(ver["version_stages"]) for v, ver in self.secret.versions.items()}

    def holder(self, label: str) -> str | None:
        with _LOCK:
            return _holder(self.secret, label)

    def in_flight(self) -> str | None:
        pending = self.holder(PENDING)
        return pending if pending is not None and pending != self.holder(CURRENT) else None

    # -- RotateSecret -------------------------------------------------------------------------------
    def start(self) -> str:
        with _LOCK:
            if self.in_flight():
                raise RotationInProgress("A previous rotation isn't complete. That rotation will be reattempted.")
            token = str(uuid.uuid4())
            old = _holder(self.secret, PENDING)
            if old is not None:
                self.secret.versions[old]["version_stages"].remove(PENDING)
            self.secret.versions[token] = {"version_id": token, "createdate": int(time.time()), "version_stages": [PENDING]}
            self.secret.rotation_requested = self.secret.rotation_enabled = True
            self.secret.rotation_lambda_arn = "arn:aws:lambda:us-east-1:123456789012:function:rotation"
        self.token, self.next = token, 0
        return token

    def reattempt(self) -> bool:
        """The service's later retry of an unfinished rotation: same token, from createSecret."""
        if self.token is None or self.in_flight() != self.token:
            return False
        self.next = 0
        return True

    @property
    def done(self) -> bool:
        return self.token is None or self.next >= len(STEPS) or self.in_flight() != self.token

    # -- invocations ----------------------------------------------------------------------------------
    def invoke(self, step: str, token: str | None = None, fault: Any = None) -> BaseException | None:
        """One Lambda invocation. fault: None | "before" | "after" | ("kill-after-call", n)."""
        token = token or self.token
        event = {"SecretId": self.arn, "ClientRequestToken": token, "Step": step}
        before = self.stages()
        error = None
        try:
            if fault == "before":
                raise LambdaCrash("killed before the handler ran")
            with self._kill_after_call(fault[1] if isinstance(fault, tuple) else None):
                self.handler(event, FakeContext())
            if fault == "after":
                raise LambdaCrash("killed after the handler returned")
        except (Exception, LambdaCrash) as exc:  # the service records any failure; the tests read them
            error = exc
        self._check_labels(step, token, before)
        self.log.append(Invocation(step, token, fault, error))
        return error

    def step(self, fault: Any = None) -> BaseException | None:
        """The next step of the current rotation; on success the rotation moves on."""
        error = self.invoke(STEPS[self.next], fault=fault)
        if error is None:
            self.next += 1
        return error

    def concurrently(self, step: str, fault: Any = None) -> list[BaseException | None]:
        """The same step twice at once (a retry overlapping a slow first attempt)."""
        results: list[Any] = [None, None]

        def run(i):
            results[i] = self.invoke(step, fault=fault if i == 0 else None)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def complete(self, attempts: int = 3, retries: int = 2) -> BaseException | None:
        """Drive the current rotation to its end: each step retried, the whole rotation reattempted.
        None when its version became AWSCURRENT, else the last error."""
        error = None
        for _ in range(attempts):
            while not self.done:
                for _ in range(retries + 1):
                    error = self.step()
                    if error is None:
                        break
                else:
                    break
            if self.done or not self.reattempt():
                break
        if self.token is not None and self.holder(CURRENT) == self.token:
            return None
        return error or RuntimeError("the rotation ended without promoting its version")

    @contextlib.contextmanager
    def _kill_after_call(self, n: int | None):
        if n is None:
            yield
            return
        calls = {"n": 0}
        events = self.sm.meta.events

        def hook(**_):
            calls["n"] += 1
            if calls["n"] == n:
                raise LambdaCrash(f"killed after API call {n}")

        events.register("after-call.secrets-manager", hook)
        try:
            yield
        finally:
            events.unregister("after-call.secrets-manager", hook)

    def _check_labels(self, step: str, token: str, before: dict[str, list[str]]) -> None:
        """Only finishSecret moves labels, and only AWSCURRENT/AWSPREVIOUS onto and AWSPENDING off the token."""
        after = self.stages()
        if step != "finishSecret":
            assert {v: sorted(s) for v, s in after.items() if s} == {v: sorted(s) for v, s in before.items() if s}, (
                f"{step} moved staging labels: {before} -> {after}"
            )
            return
        for version, labels in after.items():
            if version == token:
                continue
            gained = set(labels) - set(before.get(version, []))
            assert gained <= {PREVIOUS}, f"finishSecret put {gained} on another version"
