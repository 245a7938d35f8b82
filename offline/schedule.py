"""The rotation calendar: per secret of the stack spec (every backend), how and when it rotates, and the
next rotation dates within a horizon, evaluated from the schedule expression as Secrets Manager does.

Secrets Manager semantics (RotationRulesType, "Schedule expressions in Secrets Manager rotation"):
- `rate(N days)`: N days after the last rotation; the window opens at 00:00 UTC of that day and, without
  `Duration`, closes at the end of the UTC day. Our rotations are created with rotate_immediately=False,
  so the first one is N days after the rotation is turned on: the reference date stands for that (or for
  the last rotation).
- `rate(N hours)`: every N hours; the window closes after one hour unless `Duration` says otherwise.
- `cron(minutes hours day-of-month month day-of-week year)`, UTC, EventBridge syntax: `* , - /`, `?` in one
  of the day fields, `L` (last day; `5L` the last Thursday), `W` (nearest weekday), `#` (`2#1` the first
  Monday); days of the week are 1-7 = SUN-SAT.
Manual rotations are cadences for people: due N days after the last rotation (the reference date).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from components.spec import AUTOMATED_ROTATION, CLASS_POLICY, RATE_EXPRESSION, StackSpec

HORIZON_DAYS = 90
LOOKAHEAD_DAYS = 1000  # Secrets Manager's longest interval: how far to look for a next rotation past the horizon
MAX_LISTED = 6  # occurrences shown per secret; the count says how many more fall in the horizon
_MONTH_NAMES = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAY_NAMES = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}


class ScheduleError(ValueError):
    """An expression this evaluator cannot read (config.py has already rejected malformed ones)."""


# --- cron ---------------------------------------------------------------------------------------------------

def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """`*`, `a`, `a-b`, `a/s`, `a-b/s`, `*/s` and comma lists, with month or day names."""
    out: set[int] = set()

    def number(text: str) -> int:
        value = (names or {}).get(text.upper(), None)
        if value is None:
            if not text.isdigit():
                raise ScheduleError(f"cannot read {text!r} in {field!r}")
            value = int(text)
        if not low <= value <= high:
            raise ScheduleError(f"{value} outside {low}-{high} in {field!r}")
        return value

    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ScheduleError(f"step must be positive in {field!r}")
        if span in ("*", "?"):
            start, stop = low, high
        elif "-" in span:
            first, last = span.split("-", 1)
            start, stop = number(first), number(last)
        else:
            start = number(span)
            stop = high if step_text else start
        out.update(range(start, stop + 1, step))
    return out


def _aws_weekday(day: date) -> int:
    """1 = Sunday … 7 = Saturday, as EventBridge counts."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, wanted: int) -> int:
    """`15W`: the weekday nearest the 15th, never crossing into another month."""
    last = calendar.monthrange(year, month)[1]
    wanted = min(wanted, last)
    weekday = date(year, month, wanted).weekday()
    if weekday == 5:  # Saturday -> Friday, or Monday when the 1st is a Saturday
        return wanted - 1 if wanted > 1 else wanted + 2
    if weekday == 6:  # Sunday -> Monday, or Friday when it is the last day
        return wanted + 1 if wanted < last else wanted - 2
    return wanted


def _day_of_month_matches(field: str, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    for part in field.split(","):
        if part == "L":
            if day.day == last:
                return True
        elif part == "LW":
            if day.day == _nearest_weekday(day.year, day.month, last):
                return True
        elif part.endswith("W"):
            if day.day == _nearest_weekday(day.year, day.month, int(part[:-1])):
                return True
        elif day.day in _values(part, 1, 31):
            return True
    return False


def _day_of_week_matches(field: str, day: date) -> bool:
    weekday = _aws_weekday(day)
    for part in field.split(","):
        if "#" in part:
            name, nth = part.split("#", 1)
            if weekday == _values(name, 1, 7, _DAY_NAMES).pop() and (day.day - 1) // 7 + 1 == int(nth):
                return True
        elif part.endswith("L") and part != "L":
            if weekday == _values(part[:-1], 1, 7, _DAY_NAMES).pop() and day.day + 7 > calendar.monthrange(day.year, day.month)[1]:
                return True
        elif part == "L":
            if weekday == 7:  # alone, L in day-of-week is the last day of the week: Saturday
                return True
        elif weekday in _values(part, 1, 7, _DAY_NAMES):
            return True
    return False


def cron_times(expression: str, start: datetime, end: datetime) -> list[datetime]:
    """The instants in [start, end) a `cron(...)` expression fires, UTC."""
    fields = expression.removeprefix("cron(").removesuffix(")").split()
    if len(fields) != 6:
        raise ScheduleError(f"cron needs six fields: {expression}")
    minutes_f, hours_f, dom_f, month_f, dow_f, year_f = fields
    minutes, hours = sorted(_values(minutes_f, 0, 59)), sorted(_values(hours_f, 0, 23))
    months, years = _values(month_f, 1, 12, _MONTH_NAMES), _values(year_f, 1970, 2199)
    out = []
    day = start.date()
    while day < end.date() + timedelta(days=1):
        if day.year in years and day.month in months and (
            _day_of_week_matches(dow_f, day) if dom_f == "?" else _day_of_month_matches(dom_f, day)
        ):
            for hour in hours:
                for minute in minutes:
                    instant = datetime.combine(day, time(hour, minute), timezone.utc)
                    if start <= instant < end:
                        out.append(instant)
        day += timedelta(days=1)
    return out


def schedule_times(expression: str, reference: datetime, horizon_days: int = HORIZON_DAYS) -> list[datetime]:
    """When a Secrets Manager schedule expression rotates from `reference` (for a rate, the last rotation or
    the day rotation was turned on) to the end of the UTC day `horizon_days` later."""
    end = datetime.combine(reference.date() + timedelta(days=horizon_days + 1), time(0), timezone.utc)
    rate = RATE_EXPRESSION.match(expression)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2)
        if unit.startswith("day"):
            # The window of each due day opens at midnight UTC.
            first = datetime.combine(reference.date(), time(0), timezone.utc)
            step = timedelta(days=amount)
        else:
            first, step = reference, timedelta(hours=amount)
        out, at = [], first + step
        while at < end:
            out.append(at)
            at += step
        return out
    if expression.startswith("cron(") and expression.endswith(")"):
        return cron_times(expression, reference, end)
    raise ScheduleError(f"not a rate() or cron() expression: {expression}")


def _hourly(expression: str) -> bool:
    rate = RATE_EXPRESSION.match(expression)
    if rate:
        return rate.group(2).startswith("hour")
    fields = expression.removeprefix("cron(").removesuffix(")").split()
    return len(fields) == 6 and len(_values(fields[1], 0, 23)) > 1


# --- the calendar -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RotationEntry:
    secret: str
    backend: str
    path: str
    classification: str
    kind: str  # none | manual | generic | postgres-single | postgres-alternating
    cadence: str  # what a person reads: "rate(30 days)", "every 90 days, manual", "no rotation"
    window: str
    max_days: int | None  # the classification's maximum interval
    next: tuple[str, ...]  # ISO dates (day schedules) or date-times (hour schedules) within the horizon
    due_in_horizon: int  # how many rotations fall in the horizon (next lists at most MAX_LISTED)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _shown(expression: str, instant: datetime) -> str:
    """A day schedule by its date (the window opens at midnight), anything finer with its time."""
    return instant.date().isoformat() if expression.startswith("rate(") and not _hourly(expression) else instant.strftime("%Y-%m-%d %H:%M")


def _window(expression: str, declared: str | None) -> str:
    start = "00:00 UTC" if expression.startswith("rate(") and not _hourly(expression) else "the scheduled time"
    if declared:
        return f"{declared} from {start}"
    return "1h from the scheduled time" if _hourly(expression) else f"from {start} to the end of the UTC day"


def rotation_calendar(spec: StackSpec, reference: datetime, horizon_days: int = HORIZON_DAYS) -> list[RotationEntry]:
    """One entry per secret of the spec, whatever its backend, from its effective rotation."""
    entries = []
    for secret in spec.secrets:
        rotation = spec.rotation(secret)
        common = dict(secret=secret.name, backend=secret.backend, path=spec.secret_path(secret),
                      classification=secret.classification.value, kind=rotation.kind,
                      max_days=CLASS_POLICY[secret.classification].max_rotation_days)
        if rotation.kind == "none":
            entries.append(RotationEntry(**common, cadence="no rotation", window="-", next=(), due_in_horizon=0,
                                         note="the classification requires none" if common["max_days"] is None else ""))
            continue
        expression = rotation.schedule_expression
        if rotation.kind in AUTOMATED_ROTATION:
            times = schedule_times(expression, reference, horizon_days)
            note = ""
            if not times:  # show the first one after the horizon, if the expression ever fires again
                later = schedule_times(expression, reference, LOOKAHEAD_DAYS)[:1]
                note = f"none within {horizon_days} days" + (", the next shown" if later else f" nor the next {LOOKAHEAD_DAYS}")
                shown = tuple(_shown(expression, t) for t in later)
            else:
                shown = tuple(_shown(expression, t) for t in times[:MAX_LISTED])
            entries.append(RotationEntry(**common, cadence=expression, window=_window(expression, rotation.window),
                                         next=shown, due_in_horizon=len(times), note=note))
            continue
        # Manual: a cadence for people; the due date is counted from the reference (the last rotation).
        days = rotation.days
        if days is None:  # a manual schedule expression: read it like Secrets Manager would
            times = schedule_times(expression, reference, horizon_days)
            entries.append(RotationEntry(**common, cadence=f"{expression}, manual", window="-",
                                         next=tuple(t.date().isoformat() for t in times[:MAX_LISTED]), due_in_horizon=len(times)))
            continue
        due = reference.date() + timedelta(days=days)
        in_horizon = due <= (reference + timedelta(days=horizon_days)).date()
        entries.append(RotationEntry(**common, cadence=f"every {days} days, manual", window="-",
                                     next=(f"due by {due.isoformat()}",), due_in_horizon=int(in_horizon),
                                     note=f"if last rotated on {reference.date().isoformat()}"))
    return entries


def parse_reference(text: str | None) -> datetime:
    """`--now`: an ISO date or date-time (UTC when no zone is given); default the current time."""
    if not text:
        return datetime.now(timezone.utc).replace(second=0, microsecond=0)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleError(f"--now: not an ISO date or date-time: {text!r}") from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
