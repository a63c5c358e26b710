"""Five-field cron (the spec's form) -> AWS cron forms.

AWS cron has six fields (`min hour day-of-month month day-of-week year`), needs `?` in one of the
day fields, and numbers weekdays 1-7 from Sunday (cron: 0-7 from Sunday). Model Monitor schedules
accept only hourly, daily-at-an-hour and every-N-hours expressions. Each function returns None
when the expression has no AWS equivalent; the caller reports E701 at the spec line.
"""

from __future__ import annotations

import re

from mlopsc.cron import fields as cron_fields

_NUM = re.compile(r"^\d+$")
_DOW_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def _dow(field: str) -> str | None:
    """Weekday field -> AWS numbering (1-7 from Sunday); None when it cannot be mapped."""
    def one(token: str) -> int | None:
        if _NUM.match(token):
            n = int(token)
            return n % 7 + 1 if 0 <= n <= 7 else None
        return _DOW_NAMES.index(token.upper()) + 1 if token.upper() in _DOW_NAMES else None

    out = []
    for part in field.split(","):
        ends = [one(e) for e in part.split("-")]
        if None in ends or len(ends) > 2 or (len(ends) == 2 and ends[0] > ends[1]):  # type: ignore[operator]
            return None
        out.append("-".join(str(e) for e in ends))
    return ",".join(out)


def _aws_step(field: str) -> str:
    # `*/6` means from 0 (minutes, hours) in cron; AWS writes it `0/6`.
    return "0" + field[1:] if field.startswith("*/") else field


def aws_cron(expr: str) -> str | None:
    """`cron(...)` for EventBridge Scheduler, or None."""
    fields = cron_fields(expr)
    minute, hour, dom, month, dow = fields
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom = "?"
        dow = _dow(dow)  # type: ignore[assignment]
        if dow is None:
            return None
    else:
        return None  # AWS cannot combine a day of month with a weekday
    return f"cron({_aws_step(minute)} {_aws_step(hour)} {dom} {month} {dow} *)"


def monitoring_cron(expr: str) -> str | None:
    """A Model Monitor `ScheduleExpression`: hourly, daily at an hour, or every N hours."""
    fields = cron_fields(expr)
    if fields[0] != "0" or fields[2:] != ["*", "*", "*"]:
        return None
    hour = fields[1]
    if hour == "*":
        return "cron(0 * ? * * *)"
    if _NUM.match(hour) and int(hour) < 24:
        return f"cron(0 {int(hour)} ? * * *)"
    m = re.match(r"^(\*|\d+)/(\d+)$", hour)
    if m and 1 <= int(m.group(2)) <= 24:
        start = 0 if m.group(1) == "*" else int(m.group(1))
        return f"cron(0 {start}/{int(m.group(2))} ? * * *)" if start < 24 else None
    return None
