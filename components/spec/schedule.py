"""Rotation schedule expressions, as Secrets Manager accepts them."""

from __future__ import annotations

import re

RATE_EXPRESSION = re.compile(r"^rate\((\d+) (hour|hours|day|days)\)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/\-#L W]+$")


def check_schedule_expression(expr: str) -> None:
    """Secrets Manager accepts `rate(N days|hours)` and six-field `cron(...)` expressions."""
    rate = RATE_EXPRESSION.match(expr)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2)
        limit = 1000 if unit.startswith("day") else 24 * 1000
        if not 1 <= amount <= limit:
            raise ValueError(f"rate amount must be between 1 and {limit} {unit.rstrip('s')}s")
        if unit.startswith("hour") and amount < 4:
            raise ValueError("rotation more often than every 4 hours is not allowed")
        return
    if expr.startswith("cron(") and expr.endswith(")"):
        fields = expr[5:-1].split(" ")
        if len(fields) == 6 and all(_CRON_FIELD.match(f) for f in fields):
            day_of_month, day_of_week = fields[2], fields[4]
            if (day_of_month == "?") == (day_of_week == "?"):
                raise ValueError("cron needs `?` in exactly one of day-of-month and day-of-week")
            return
        raise ValueError("cron needs six fields: minutes hours day-of-month month day-of-week year")
    raise ValueError("must be rate(N days), rate(N hours) or cron(minutes hours day-of-month month day-of-week year)")
