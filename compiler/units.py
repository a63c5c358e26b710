"""Parsers for the value formats the schema only checks loosely: durations, sizes, cpu, cron.

Each parser raises ValueError with a message that names what was expected.
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"^([0-9]+)(s|m|h|d)$")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_SIZE_FACTOR = {
    None: 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}

_CRON_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
}
# (name, low, high, names allowed in place of numbers)
_CRON_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}),
    ("day of week", 0, 7, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
)


def duration_seconds(text: str) -> int:
    """`30m` -> 1800. Units: s, m, h, d."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"`{text}` is not a duration; write a number and a unit: 90s, 30m, 4h, 7d")
    seconds = int(match.group(1)) * _DURATION_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"duration `{text}` must be greater than zero")
    return seconds


def size_bytes(value: str | int) -> int:
    """`16Gi` -> 17179869184; a bare integer is bytes."""
    if isinstance(value, bool):
        raise ValueError("a size must be a number of bytes or a string like 16Gi")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("a size must be greater than zero")
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"`{value}` is not a size; write e.g. 512Mi, 16Gi, 2G")
    result = int(float(match.group(1)) * _SIZE_FACTOR[match.group(2)])
    if result <= 0:
        raise ValueError(f"size `{value}` must be greater than zero")
    return result


def cpu_cores(value: str | float) -> float:
    """`4` -> 4.0, `500m` -> 0.5."""
    if isinstance(value, bool):
        raise ValueError("cpu must be a number of cores or millicores like 500m")
    if isinstance(value, (int, float)):
        cores = float(value)
    else:
        match = re.match(r"^([0-9]+)m$", value)
        if not match:
            raise ValueError(f"`{value}` is not a cpu amount; write cores (2, 0.5) or millicores (500m)")
        cores = int(match.group(1)) / 1000
    if cores <= 0:
        raise ValueError("cpu must be greater than zero")
    return cores


def cron(expression: str) -> str:
    """Check a 5-field cron expression (or an @alias) and return its 5-field form."""
    text = " ".join(str(expression).split())
    if text in _CRON_ALIASES:
        return _CRON_ALIASES[text]
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValueError(
            f"`{expression}` has {len(fields)} field(s); cron needs 5: minute hour day-of-month month day-of-week"
        )
    for value, (name, low, high, names) in zip(fields, _CRON_FIELDS):
        _cron_field(value, name, low, high, names)
    _cron_date_exists(fields)
    return text


_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTH_NAMES = _CRON_FIELDS[3][3]


def _cron_date_exists(fields: list[str]) -> None:
    """A schedule whose only days of the month never occur in its months (31 February) never runs.
    Only plain lists are judged; a day-of-week other than `*` makes the schedule fire anyway."""
    day, month, weekday = fields[2], fields[3], fields[4]
    if weekday not in ("*", "?") or not all(p.isdigit() for p in day.split(",")):
        return
    months = [_MONTH_NAMES.get(m.lower(), m) for m in month.split(",")] if month != "*" else list(range(1, 13))
    if not all(isinstance(m, int) or m.isdigit() for m in months):
        return
    if min(int(d) for d in day.split(",")) > max(_DAYS_IN_MONTH[int(m) - 1] for m in months):
        raise ValueError(f"day {day} of month {month} never occurs, so the schedule never runs")


def _cron_field(value: str, name: str, low: int, high: int, names: dict[str, int]) -> None:
    for part in value.split(","):
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"{name}: step `/{step}` must be a positive number")
        if base == "*":
            continue
        bounds = base.split("-")
        if len(bounds) > 2:
            raise ValueError(f"{name}: `{base}` is not a value or a range")
        numbers = [_cron_number(b, name, low, high, names) for b in bounds]
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            raise ValueError(f"{name}: range `{base}` runs backwards")


def _cron_number(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"{name}: `{text}` is not a number")
    number = int(text)
    if not low <= number <= high:
        raise ValueError(f"{name}: {number} is outside {low}-{high}")
    return number


def format_duration(seconds: int) -> str:
    """14400 -> `4h`: the largest unit that divides the duration (the inverse of duration_seconds)."""
    for unit in ("d", "h", "m"):
        if seconds % _DURATION_SECONDS[unit] == 0:
            return f"{seconds // _DURATION_SECONDS[unit]}{unit}"
    return f"{seconds}s"
