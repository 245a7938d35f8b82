"""The four-step rotation protocol of AWS Secrets Manager, shared by every kind of secret.

Secrets Manager invokes the function with {SecretId, ClientRequestToken, Step} for createSecret,
setSecret, testSecret and finishSecret, any of them more than once, late, or concurrently. The engine
makes that safe around the token: it refuses a version that is not in flight (staged AWSPENDING and
never promoted), stores the pending value once, and moves labels only in finishSecret (AWSCURRENT to
the token, then AWSPENDING off it). A `Kind` supplies what differs per type of secret.
"""

from __future__ import annotations

import json
import logging
import os
import string
import time
from dataclasses import dataclass
from typing import Any, Callable

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")

# The URL-safe base64 alphabet: nothing to quote or escape in a URL, a libpq/JDBC connection string,
# a .pgpass line or a shell word.
SAFE_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")
_EXCLUDED = "".join(c for c in string.punctuation if c not in SAFE_ALPHABET)

clock: Callable[[], float] = time.time  # tests move time by replacing this

log = logging.getLogger("rotation")
log.setLevel(logging.INFO)
for _name in ("botocore", "boto3", "urllib3", "s3transfer", "pg8000"):
    logging.getLogger(_name).setLevel(logging.WARNING)  # their DEBUG lines carry request bodies

_LOG_FIELDS = frozenset({"kind", "arn", "token", "step", "outcome", "reason", "error", "code"})


def emit(msg: str, **fields: str) -> None:
    """One JSON log line holding only ARNs, tokens, step names, outcomes and error classes/codes."""
    if not _LOG_FIELDS.issuperset(fields):
        raise ValueError(f"field(s) not allowed in rotation logs: {sorted(set(fields) - _LOG_FIELDS)}")
    log.info(json.dumps({"msg": msg, **fields}, sort_keys=True))


class RotationError(Exception):
    """A step cannot proceed. The message names stages, fields and codes, never a value."""


def check_safe(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or not SAFE_ALPHABET.issuperset(value):
        raise RotationError(f"{what} is empty or has characters outside the URL-safe alphabet")
    return value


def parse(raw: Any, what: str) -> dict:
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:  # its message quotes no content, but stay uniform
        value = None
    if not isinstance(value, dict):
        raise RotationError(f"the {what} value is not a JSON object")
    return value


def in_flight(stages: list[str]) -> bool:
    """Staged AWSPENDING and never promoted: a version holding AWSPREVIOUS was current once."""
    return PENDING in stages and CURRENT not in stages and PREVIOUS not in stages


_client = None


def client():
    """The Secrets Manager client, made once per execution environment."""
    global _client
    if _client is None:
        import boto3  # lazily: the runtime has it, and importing it costs more than all our code

        _client = boto3.client("secretsmanager", endpoint_url=os.environ.get("SECRETS_MANAGER_ENDPOINT") or None)
    return _client


@dataclass
class Rotation:
    """One invocation: the secret, the rotation's token, and typed access to Secrets Manager."""

    sm: Any
    arn: str
    token: str

    def staging(self) -> dict[str, list[str]]:
        return self.sm.describe_secret(SecretId=self.arn).get("VersionIdsToStages", {})

    def value(self, stage: str, version: str | None = None, arn: str | None = None) -> dict | None:
        args = {"SecretId": arn or self.arn, "VersionStage": stage}
        if version:
            args["VersionId"] = version
        try:
            raw = self.sm.get_secret_value(**args)
        except self.sm.exceptions.ResourceNotFoundException:
            return None
        return parse(raw.get("SecretString"), stage)

    def require(self, stage: str, arn: str | None = None) -> dict:
        found = self.value(stage, arn=arn)
        if found is None:
            raise RotationError(f"the secret has no {stage} value")
        return found

    def still_in_flight(self) -> bool:
        return in_flight(self.staging().get(self.token, []))

    def random(self, length: int) -> str:
        out = self.sm.get_random_password(
            PasswordLength=length, ExcludeCharacters=_EXCLUDED, IncludeSpace=False, RequireEachIncludedType=True
        )["RandomPassword"]
        return check_safe(out, "the generated value")


def env_int(name: str, default: int | None, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None and default is not None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise RotationError(f"environment variable {name} must be an integer") from None
    if not low <= value <= high:
        raise RotationError(f"environment variable {name} must be between {low} and {high}")
    return value


class Kind:
    """What one type of secret does in each step; the engine does tokens, staging and labels."""

    name = "kind"

    def create(self, rot: Rotation, current: dict) -> dict:
        raise NotImplementedError

    def set(self, rot: Rotation, current: dict, pending: dict) -> None:
        pass

    def test(self, rot: Rotation, pending: dict) -> None:
        pass

    def finish(self, rot: Rotation, current: dict, pending: dict) -> None:
        """Last check before AWSCURRENT moves; raise to keep the current version."""


def handler_for(kind: Kind) -> Callable[[dict, Any], str]:
    def handler(event: dict, context: Any = None) -> str:
        return run(kind, event)

    handler.__doc__ = f"Lambda entry point rotating a {kind.name} secret."
    return handler


def run(kind: Kind, event: dict) -> str:
    try:
        arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    except (KeyError, TypeError):
        raise RotationError("the event lacks SecretId, ClientRequestToken or Step") from None
    fields = {"kind": kind.name, "arn": str(arn), "token": str(token), "step": str(step)}
    emit("step started", **fields)
    try:
        outcome = _step(kind, Rotation(client(), arn, token), step)
    except RotationError as exc:
        emit("step failed", reason=str(exc), **fields)
        raise
    except Exception as exc:  # driver and SDK messages may quote statements or bodies: keep class and code only
        error, code = type(exc).__name__, _code(exc)
        emit("step failed", error=error, **({"code": code} if code else {}), **fields)
        raise RotationError(f"{step} failed with {error}" + (f" ({code})" if code else "")) from None
    emit("step done", outcome=outcome, **fields)
    return outcome


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    first = exc.args[0] if exc.args else None
    return str(first.get("C", "")) if isinstance(first, dict) else ""


def _step(kind: Kind, rot: Rotation, step: str) -> str:
    if step not in STEPS:
        raise RotationError("unknown step")
    meta = rot.sm.describe_secret(SecretId=rot.arn)
    if meta.get("RotationEnabled") is False:
        raise RotationError("rotation is not enabled for this secret")
    all_stages = meta.get("VersionIdsToStages", {})
    stages = all_stages.get(rot.token)
    if stages is None:
        raise RotationError("the token is not a staged version of this secret")
    if CURRENT in stages or PREVIOUS in stages:
        # Promoted already: a late duplicate changes nothing; a retried finishSecret completes the
        # label clean-up it was interrupted in.
        if step == "finishSecret" and PENDING in stages:
            _promote(rot, all_stages)
            return "pending label removed"
        return "already promoted"
    if PENDING not in stages:
        raise RotationError("the token's version is not staged AWSPENDING")
    if step == "createSecret":
        return _create(kind, rot, rot.require(CURRENT))
    pending = rot.value(PENDING, rot.token)
    if pending is None:
        raise RotationError("the pending version has no value: createSecret has not run")
    if step == "setSecret":
        kind.set(rot, rot.require(CURRENT), pending)
    elif step == "testSecret":
        kind.test(rot, pending)
    else:
        kind.finish(rot, rot.require(CURRENT), pending)
        _promote(rot, all_stages)
    return "done"


def _create(kind: Kind, rot: Rotation, current: dict) -> str:
    if rot.value(PENDING, rot.token) is not None:
        return "pending exists"
    pending = kind.create(rot, current)
    try:
        rot.sm.put_secret_value(
            SecretId=rot.arn, ClientRequestToken=rot.token, SecretString=json.dumps(pending), VersionStages=[PENDING]
        )
    except rot.sm.exceptions.ResourceExistsException:
        # A concurrent invocation stored its value under the token first: that one stands.
        if rot.value(PENDING, rot.token) is None:
            raise
        return "pending exists"
    return "created"


def _promote(rot: Rotation, stages: dict[str, list[str]]) -> None:
    """AWSCURRENT to the token (Secrets Manager moves AWSPREVIOUS along), then AWSPENDING off it.
    `stages` may be stale: a refused move means someone else moved a label, so look again."""
    for _ in range(4):
        mine = stages.get(rot.token, [])
        try:
            if in_flight(mine):
                old = next((v for v, s in stages.items() if CURRENT in s), None)
                rot.sm.update_secret_version_stage(
                    SecretId=rot.arn, VersionStage=CURRENT, MoveToVersionId=rot.token,
                    **({"RemoveFromVersionId": old} if old else {}),
                )
            if PENDING in mine:
                rot.sm.update_secret_version_stage(SecretId=rot.arn, VersionStage=PENDING, RemoveFromVersionId=rot.token)
            if PENDING in mine or CURRENT in mine or PREVIOUS in mine:
                return
            raise RotationError("the token's version lost AWSPENDING during finishSecret")
        except rot.sm.exceptions.InvalidParameterException:
            stages = rot.staging()
    raise RotationError("the staging labels kept changing during finishSecret")


def abandon(rot: Rotation, why: str) -> None:
    """Take AWSPENDING off a pending value that must never become current, so the next rotation starts afresh."""
    try:
        rot.sm.update_secret_version_stage(SecretId=rot.arn, VersionStage=PENDING, RemoveFromVersionId=rot.token)
    except rot.sm.exceptions.InvalidParameterException:
        pass  # already off
    raise RotationError(f"pending version abandoned: {why}")
