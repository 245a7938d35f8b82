"""Secrets Manager secrets: their key, recovery window, rotation and classification, and the Lambda
permission of a rotation function.

The tags our components set decide what a secret needs (seed 003): `classification`
(critical|high|medium|low), `environment`, and, where no SecretRotation resource rotates the secret,
`rotation` (none|manual|generic|postgres-single|postgres-alternating) with `rotation-days`, the
declared maximum interval; a declared manual rotation with its days counts as rotation, an automated
kind only with a SecretRotation that targets the secret.

A SecretRotation names its secret by ARN or name (`secretId`), often unknown at preview (the ARN of a
secret created in the same update). It is matched by name or ARN (Secrets Manager appends `-` and six
characters to the name in the ARN); one that cannot be matched may target any secret, so it turns a
verdict it could change into an undecided finding. A `cron(...)` schedule is judged by its longest gap
between runs, counted day by day over 2001-2056 (two 28-year calendar cycles); syntax beyond AWS's
documented fields is undecided.
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from functools import cache
from typing import Any, Callable, NamedTuple

from documents.props import dig, entries
from policy.rules._util import HIPAA_ACCESS, HIPAA_ENCRYPTION, SOC2_ACCESS, SOC2_BOUNDARY
from policy.rules.base import Finding, Resource, Rule, Severity, StackRule, is_prod, is_unknown, rule, stack_rule

SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
ALIAS = "aws:kms/alias:Alias"
PERMISSION = "aws:lambda/permission:Permission"

# The classification policy (EONPRO seed 003; components/spec CLASS_POLICY holds the same, a test keeps them equal).
MAX_ROTATION_DAYS: dict[str, int | None] = {"critical": 365, "high": 90, "medium": 180, "low": None}
CMK_CLASSES = frozenset({"critical", "high"})
DEDICATED_KEY_CLASSES = frozenset({"critical"})
MIN_PROD_RECOVERY_DAYS = 7
AWS_MANAGED_KEY = "alias/aws/secretsmanager"
ROTATION_KINDS = frozenset({"manual", "generic", "postgres-single", "postgres-alternating"})  # and "none"
NEVER = math.inf
_ACCESS = (HIPAA_ACCESS, SOC2_ACCESS)


def _tag(resource: Resource, key: str) -> Any:
    return dig(resource["props"], "tags", key)


def _classification(resource: Resource) -> Any:
    """The class in lower case, the unknown itself, or None when absent or not a class."""
    value = _tag(resource, "classification")
    if is_unknown(value):
        return value
    return value.lower() if isinstance(value, str) and value.lower() in MAX_ROTATION_DAYS else None


# --- keys --------------------------------------------------------------------------------------

def _key_fields(props: dict) -> list[tuple[str, Any]]:
    """Where a secret names its keys: the primary's and each replica's kmsKeyId."""
    replicas = props.get("replicas")
    if is_unknown(replicas):
        return [("kmsKeyId", props.get("kmsKeyId")), ("replicas", replicas)]
    return [("kmsKeyId", props.get("kmsKeyId"))] + [(f"replicas[{i}].kmsKeyId", dig(r, "kmsKeyId")) for i, r in enumerate(entries(replicas))]


def _aws_managed(value: Any) -> bool:
    """No key (Secrets Manager then uses aws/secretsmanager) or that key named by alias."""
    return value in (None, "") or (isinstance(value, str) and value.lower().endswith(AWS_MANAGED_KEY))


@rule(id="SP-SM-001", name="secret-customer-managed-key", severity=Severity.HIGH, resource_types=(SECRET,), frameworks=(*_ACCESS, HIPAA_ENCRYPTION),
      remediation="Set kmsKeyId (and each replica's kmsKeyId) to a customer-managed key.")
def SECRET_CUSTOMER_MANAGED_KEY(rule: Rule, resource: Resource) -> list[Finding]:
    """A high or critical secret (or one of its replicas) without a customer-managed key uses aws/secretsmanager, whose
    policy no one can narrow."""
    fields = _key_fields(resource["props"])
    managed = [f for f, v in fields if not is_unknown(v) and _aws_managed(v)]
    unknown = [f for f, v in fields if is_unknown(v)]
    if not managed and not unknown:
        return []
    cls = _classification(resource)
    if is_unknown(cls):
        return [rule.undecided(resource, "tags.classification (the secret uses the AWS managed key or one unknown at preview)")]
    if cls not in CMK_CLASSES:
        return []
    return [rule.finding(resource, f"{f} is not a customer-managed key: a {cls} secret must not use aws/secretsmanager, "
                         "which any principal of the account with Secrets Manager access can use; set a customer-managed KMS key")
            for f in managed] + [rule.undecided(resource, f) for f in unknown]


def _key_id(value: str, aliases: dict[str, str]) -> str | None:
    """A key reference as its key id: from an ARN, a bare id, or an alias resolved through the stack's
    aliases; None when the alias's target is unknown at preview."""
    ref = value.rpartition(":")[2] if value.startswith("arn:") else value
    if ref.startswith("alias/") and ref in aliases:
        return None if is_unknown(aliases[ref]) else _key_id(aliases[ref], {})
    return ref.removeprefix("key/")


@stack_rule(id="SP-SM-002", name="secret-critical-dedicated-key", severity=Severity.MEDIUM, resource_types=(SECRET, ALIAS),
            frameworks=(HIPAA_ACCESS, SOC2_ACCESS), remediation="Give each critical secret its own customer-managed key.")
def SECRET_CRITICAL_DEDICATED_KEY(rule: StackRule, resources: list[Resource]) -> list[Finding]:
    """A critical secret shares its KMS key with another secret, so the key policy that guards it also grants the other
    secret's readers."""
    aliases = {r["props"]["name"]: r["props"]["targetKeyId"] for r in resources if r["type"] == ALIAS
               and isinstance(r["props"].get("name"), str) and isinstance(r["props"].get("targetKeyId"), str)}
    secrets = [r for r in resources if r["type"] == SECRET]
    keys: dict[str, tuple[set[str], bool]] = {}  # urn -> (customer key ids, some key unknown at preview)
    for secret in secrets:
        values = [v for _, v in _key_fields(secret["props"])]
        ids = [_key_id(v, aliases) for v in values if isinstance(v, str) and not is_unknown(v) and not _aws_managed(v)]
        keys[secret["urn"]] = ({i for i in ids if i}, None in ids or any(is_unknown(v) for v in values))
    # Who uses each key id, and how many secrets have a key unknown at preview, counted once
    # (comparing every critical secret with every other secret is quadratic at 10,000 secrets).
    holders: dict[str, list[int]] = {}
    for position, secret in enumerate(secrets):
        for key_id in keys[secret["urn"]][0]:
            holders.setdefault(key_id, []).append(position)
    unknown_keys = sum(keys[s["urn"]][1] for s in secrets)
    out = []
    for position, secret in enumerate(secrets):
        cls = _classification(secret)
        if not (is_unknown(cls) or cls in DEDICATED_KEY_CLASSES):
            continue
        mine, mine_unknown = keys[secret["urn"]]
        others = len(secrets) > 1
        sharing = sorted(secrets[p]["name"] for p in {p for key_id in mine for p in holders[key_id]} - {position})
        if sharing and not is_unknown(cls):
            out.append(rule.finding(secret, f"kmsKeyId is also the key of {', '.join(sharing)}: a critical secret needs a "
                                    "dedicated customer-managed key, so its key policy grants no one else; give it its own key"))
        elif sharing:
            out.append(rule.undecided(secret, f"tags.classification (the key is shared with {', '.join(sharing)})"))
        elif others and (mine_unknown or unknown_keys > mine_unknown) and not is_unknown(cls):
            out.append(rule.undecided(secret, "a kmsKeyId of this or another secret (they may be the same key)"))
    return out


# --- recovery window ---------------------------------------------------------------------------

@rule(id="SP-SM-003", name="secret-prod-recovery-window", severity=Severity.HIGH, resource_types=(SECRET,), frameworks=(SOC2_ACCESS,),
      remediation="Leave recoveryWindowInDays at its default (30) or set 7-30 in prod.")
def SECRET_PROD_RECOVERY_WINDOW(rule: Rule, resource: Resource) -> list[Finding]:
    """A prod secret with a recovery window below 7 days (0 forces deletion) cannot be restored after a mistaken or
    malicious delete."""
    window, prod = resource["props"].get("recoveryWindowInDays"), is_prod(resource, _tag(resource, "environment"))
    if prod is False:
        return []
    if is_unknown(window):
        return [rule.undecided(resource, "recoveryWindowInDays")]
    if isinstance(window, (int, float)) and not isinstance(window, bool) and window < MIN_PROD_RECOVERY_DAYS:
        what = "0 (force delete: a deletion cannot be undone)" if window == 0 else f"{window:g} days"
        if prod is None:
            return [rule.undecided(resource, f"tags.environment (recoveryWindowInDays is {what})")]
        return [rule.finding(resource, f"recoveryWindowInDays is {what}: a prod secret needs at least "
                             f"{MIN_PROD_RECOVERY_DAYS} days to undo a deletion; remove it (default 30) or set 7-30")]
    return []


# --- rotation schedules ------------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
_WEEKDAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split(), 1)}  # AWS numbers Sunday 1
_RATE = re.compile(r"rate\(\s*(\d+)\s+(day|days|hour|hours)\s*\)", re.IGNORECASE)
_CRON = re.compile(r"cron\((.*)\)", re.IGNORECASE | re.DOTALL)
_WINDOW = (date(2001, 1, 1), date(2056, 12, 31))


def _number(text: str, names: dict[str, int]) -> int | None:
    return int(text) if text.isdigit() else names.get(text)


def _numbers(field: str, low: int, high: int, names: dict[str, int]) -> set[int] | None:
    """`*`, `5`, `1,15`, `MON-FRI`, `*/3`, `2/4`: the values of one cron field; None when not understood."""
    out: set[int] = set()
    for part in field.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first, last = (_number(x, names) for x in base.split("-", 1))
        else:
            first = _number(base, names)
            last = high if step else first
        if first is None or last is None or not low <= first <= last <= high or (step and not step.isdigit()) or step == "0":
            return None
        out |= set(range(first, last + 1, int(step or 1)))
    return out


def _last_day(day: date) -> int:
    return ((day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day


def _nearest_weekday(day: date, wanted: int) -> int | None:
    """The `NW` day-of-month: the weekday nearest day N of the month, never leaving the month."""
    last = _last_day(day)
    if wanted > last:
        return None
    weekday = day.replace(day=wanted).weekday()  # Monday 0
    if weekday == 5:
        return wanted - 1 if wanted > 1 else wanted + 2
    if weekday == 6:
        return wanted + 1 if wanted < last else wanted - 2
    return wanted


def _aws_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Python counts from Monday 0, AWS from Sunday 1


def _day_matcher(dom: str, dow: str) -> Callable[[date], bool] | None:
    """AWS cron: one of day-of-month and day-of-week is `?`, the other decides."""
    if dow == "?" and dom != "?":
        if dom == "L":
            return lambda d: d.day == _last_day(d)
        if dom == "LW":
            return lambda d: d.weekday() < 5 and not any((d + timedelta(days=i)).month == d.month and (d + timedelta(days=i)).weekday() < 5 for i in (1, 2, 3))
        if dom.endswith("W") and dom[:-1].isdigit():
            return lambda d, n=int(dom[:-1]): d.day == _nearest_weekday(d, n)
        days = _numbers(dom, 1, 31, {})
        return None if days is None else lambda d: d.day in days
    if dom == "?" and dow != "?":
        if "#" in dow:
            weekday, _, nth = dow.partition("#")
            wanted = _number(weekday, _WEEKDAYS)
            if wanted is None or not nth.isdigit() or not 1 <= int(nth) <= 5:
                return None
            return lambda d: _aws_weekday(d) == wanted and (d.day - 1) // 7 + 1 == int(nth)
        if dow.endswith("L") and len(dow) > 1:
            wanted = _number(dow[:-1], _WEEKDAYS)
            return None if wanted is None else lambda d: _aws_weekday(d) == wanted and d.day + 7 > _last_day(d)
        weekdays = _numbers(dow, 1, 7, _WEEKDAYS)
        return None if weekdays is None else lambda d: _aws_weekday(d) in weekdays
    return None


@cache
def cron_max_interval(expression: str) -> float | None:
    """The longest gap in days between two runs of an AWS `cron(min hour dom month dow year)`: NEVER when it
    runs at most once, None when the expression is not understood. The gap between run days bounds the gap
    between runs, since every run day has the same times."""
    fields = expression.upper().split()
    if len(fields) != 6 or fields[5] != "*":  # a year other than * stops running
        return None
    months, days = _numbers(fields[3], 1, 12, _MONTHS), _day_matcher(fields[2], fields[4])
    if months is None or days is None:
        return None
    runs, day = [], _WINDOW[0]
    while day <= _WINDOW[1]:
        if day.month in months and days(day):
            runs.append(day)
        day += timedelta(days=1)
    return max(((b - a).days for a, b in zip(runs, runs[1:])), default=NEVER)


class Schedule(NamedTuple):
    days: float | None  # the longest interval; NEVER when not rotating; None when it cannot be decided
    why: str  # how the interval was read, or why it could not be


def schedule(rotation: Resource) -> Schedule:
    props = rotation["props"]
    enabled, rules = props.get("rotationEnabled"), props.get("rotationRules")
    if is_unknown(enabled) or is_unknown(rules):
        return Schedule(None, "rotationEnabled or rotationRules is unknown at preview")
    if enabled is False:
        return Schedule(NEVER, "rotationEnabled is false")
    after, expression = dig(rules, "automaticallyAfterDays"), dig(rules, "scheduleExpression")
    if is_unknown(after) or is_unknown(expression):
        return Schedule(None, "rotationRules is unknown at preview")
    intervals = []
    if isinstance(after, (int, float)) and not isinstance(after, bool):
        intervals.append(float(after))
    if isinstance(expression, str) and expression:
        if rate := _RATE.fullmatch(expression.strip()):
            count = int(rate.group(1))
            intervals.append(count / 24 if rate.group(2).lower().startswith("hour") else count)
        elif (cron := _CRON.fullmatch(expression.strip())) and (days := cron_max_interval(cron.group(1))) is not None:
            intervals.append(days)
        else:
            return Schedule(None, "rotationRules.scheduleExpression is not a rate() or cron() expression this rule can read")
    if not intervals:
        return Schedule(NEVER, "rotationRules sets no schedule")
    return Schedule(max(intervals), "rotationRules")


def _target_name(secret_id: str) -> str:
    """The secret name a secretId names: itself, or from an ARN without `-` and the six random characters."""
    is_arn = secret_id.startswith("arn:") and ":secret:" in secret_id
    return secret_id.partition(":secret:")[2][:-7] if is_arn else secret_id


def _targets(rotation: Resource, secret: Resource) -> bool | None:
    """Whether the rotation's secretId names the secret (by name or ARN); None when it cannot be told."""
    secret_id, name, prefix = rotation["props"].get("secretId"), secret["props"].get("name"), secret["props"].get("namePrefix")
    if is_unknown(secret_id) or is_unknown(name):
        return None
    if not isinstance(secret_id, str):
        return False
    target = _target_name(secret_id)
    if isinstance(name, str) and name:
        return target == name
    if isinstance(prefix, str) and not is_unknown(prefix):
        return None if target.startswith(prefix) else False
    return None  # named by the engine (auto-naming): the name is not known here


def _declared(secret: Resource) -> Schedule:
    """The rotation the tags declare (used when no SecretRotation targets the secret)."""
    kind, days = _tag(secret, "rotation"), _tag(secret, "rotation-days")
    if is_unknown(kind) or is_unknown(days):
        return Schedule(None, "tags.rotation or tags.rotation-days is unknown at preview")
    if not isinstance(kind, str) or kind in ("", "none"):
        return Schedule(NEVER, "no SecretRotation targets it and its tags declare no rotation")
    if kind in ROTATION_KINDS - {"manual"}:
        # An automated kind promises a rotation function; the tag alone rotates nothing.
        return Schedule(NEVER, f"its tags declare rotation={kind}, which a rotation function performs, but no SecretRotation targets it")
    declared = f"its tags declare rotation={kind}" if kind in ROTATION_KINDS else "its rotation tag declares an unlisted kind"
    if not isinstance(days, str) or not days.strip().isdigit():
        return Schedule(NEVER, f"{declared} without a whole number of rotation-days")
    return Schedule(int(days), declared)


def _describe(days: float) -> str:
    return "never" if days == NEVER else f"every {days:g} days"


@stack_rule(id="SP-SM-004", name="secret-rotation-within-class", severity=Severity.HIGH, resource_types=(SECRET, ROTATION), frameworks=_ACCESS,
            remediation="Add a SecretRotation with automaticallyAfterDays (or rate/cron) within the class maximum, or tag rotation=manual "
            "with rotation-days within it.")
def SECRET_ROTATION_WITHIN_CLASS(rule: StackRule, resources: list[Resource]) -> list[Finding]:
    """A secret whose class requires rotation (critical 365, high 90, medium 180 days) has no SecretRotation and no
    declared rotation, or rotates less often than its class allows."""
    rotations = [r for r in resources if r["type"] == ROTATION]
    # Indexed once: a named secret is targeted exactly by the rotations naming it, and maybe by those whose
    # secretId is unknown (comparing every secret with every rotation is quadratic at 10,000 secrets).
    by_target: dict[str, list[Resource]] = {}
    unknown_ids = [r for r in rotations if is_unknown(r["props"].get("secretId"))]
    for r in rotations:
        if isinstance(r["props"].get("secretId"), str) and not is_unknown(r["props"]["secretId"]):
            by_target.setdefault(_target_name(r["props"]["secretId"]), []).append(r)
    out = []
    for secret in (r for r in resources if r["type"] == SECRET):
        cls = _classification(secret)
        if is_unknown(cls):
            out.append(rule.undecided(secret, "tags.classification"))
            continue
        limit = MAX_ROTATION_DAYS.get(cls) if cls else None
        if limit is None:
            continue  # low, or unclassified (SECRET_CLASSIFIED)
        fix = f"a {cls} secret must rotate at least every {limit} days: add a SecretRotation within that, or tag rotation=manual with rotation-days <= {limit}"
        name = secret["props"].get("name")
        if isinstance(name, str) and name and not is_unknown(name):
            matched, maybe = by_target.get(name, []), unknown_ids
        else:  # unknown or engine-assigned name: each rotation decides
            matched = [r for r in rotations if _targets(r, secret) is True]
            maybe = [r for r in rotations if _targets(r, secret) is None]
        if matched:
            for rotation in matched:
                days, why = schedule(rotation)
                if days is None:
                    out.append(rule.finding(secret, f"could not decide: SecretRotation {rotation['name']}: {why}", undecided=True))
                elif days > limit:
                    out.append(rule.finding(secret, f"SecretRotation {rotation['name']} rotates {_describe(days)} ({why}): {fix}"))
            continue
        declared = _declared(secret)
        if declared.days is None:
            out.append(rule.finding(secret, f"could not decide: {declared.why}", undecided=True))
            continue
        ok = declared.days <= limit
        if maybe:
            candidates = [schedule(r).days for r in maybe]
            if all(d is not None and (d <= limit) == ok for d in candidates):
                maybe = []  # whichever secret they target, the verdict is the same
            else:
                names = ", ".join(r["name"] for r in maybe)
                out.append(rule.undecided(secret, f"the secretId of SecretRotation {names} (it may target this secret)"))
                continue
        if not ok:
            how = declared.why if declared.days == NEVER else f"{declared.why} {_describe(declared.days)}"
            out.append(rule.finding(secret, f"{how}: {fix}"))
    return out


# --- rotation Lambda permission, classification ------------------------------------------------

@rule(id="SP-SM-005", name="rotation-lambda-permission-scoped", severity=Severity.HIGH, resource_types=(PERMISSION,),
      frameworks=(HIPAA_ACCESS, SOC2_ACCESS, SOC2_BOUNDARY), remediation="Set sourceAccount to your account id (or sourceArn to the secret's ARN).")
def ROTATION_LAMBDA_PERMISSION_SCOPED(rule: Rule, resource: Resource) -> list[Finding]:
    """A Lambda permission for secretsmanager.amazonaws.com (or '*') without sourceAccount or sourceArn lets other
    accounts' secrets invoke the rotation function."""
    props = resource["props"]
    principal, account, arn = props.get("principal"), props.get("sourceAccount"), props.get("sourceArn")
    if account not in (None, "") or arn not in (None, ""):
        return []  # set (an unknown value is set too)
    if is_unknown(principal):
        return [rule.undecided(resource, "principal (no sourceAccount or sourceArn is set)")]
    if principal in ("secretsmanager.amazonaws.com", "*"):
        return [rule.finding(resource, f"lets {principal} invoke the function without sourceAccount or sourceArn: "
                             "any account's secrets could call your rotation function (confused deputy); set sourceAccount or sourceArn")]
    return []


@rule(id="SP-SM-006", name="secret-classified", severity=Severity.MEDIUM, resource_types=(SECRET,), frameworks=(SOC2_ACCESS,),
      remediation="Tag the secret classification=critical|high|medium|low.")
def SECRET_CLASSIFIED(rule: Rule, resource: Resource) -> list[Finding]:
    """A secret without a valid classification tag escapes the class rules (key, rotation)."""
    value = _tag(resource, "classification")
    if is_unknown(value):
        return [rule.undecided(resource, "tags.classification")]
    if _classification(resource) is None:
        return [rule.finding(resource, "tags.classification is missing or not one of critical, high, medium, low: "
                             "the class decides the key, rotation and recovery rules; tag the secret")]
    return []


RULES: list[Rule | StackRule] = [
    SECRET_CUSTOMER_MANAGED_KEY,
    SECRET_CRITICAL_DEDICATED_KEY,
    SECRET_PROD_RECOVERY_WINDOW,
    SECRET_ROTATION_WITHIN_CLASS,
    ROTATION_LAMBDA_PERMISSION_SCOPED,
    SECRET_CLASSIFIED,
]
