"""The one cron implementation: the validator's check, `mlopsc monitor --schedule` and every
target's schedule conversion go through it.

The spec's form is five fields (`minute hour day-of-month month day-of-week`) or an @alias;
`normalize` checks it and returns the five-field form every target converts from. Day-of-month
and day-of-week, when both are restricted, fire on either (Vixie cron, croniter, KFP's
robfig/cron). `next_run` is croniter's (imported only there: the compile path does not need it);
`tests/language/test_cron.py` holds the validator to croniter on every form it accepts.
"""

from __future__ import annotations

import datetime as dt

from .ir_node import Node, node

ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


@node  # a frozen dataclass without generated code (see ir_node)
class Field(Node):
    name: str
    low: int
    high: int
    names: dict[str, int]
    open_end: int | None = None  # where `5/2` stops, when not at `high`


FIELDS = (
    Field("minute", 0, 59, {}),
    Field("hour", 0, 23, {}),
    Field("day of month", 1, 31, {}),
    Field("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}),
    # 7 is Sunday too, but `1/2` stops at Saturday (croniter, robfig/cron)
    Field("day of week", 0, 7, {d: i for i, d in enumerate(_WEEKDAYS)}, open_end=6),
)
# February has 29 days in leap years: a schedule on the 29th fires, every fourth year.
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def fields(expression: str) -> list[str]:
    """The five fields of a checked expression (an @alias expanded)."""
    return normalize(expression).split(" ")


def normalize(expression: str) -> str:
    """Check a five-field cron expression (or an @alias); return its five-field form.
    Raises ValueError naming the field and what was expected."""
    text = " ".join(str(expression).split())
    if text.lower() in ALIASES:
        return ALIASES[text.lower()]
    parts = text.split(" ")
    if len(parts) != 5:
        raise ValueError(
            f"`{expression}` has {len(parts)} field(s); cron needs 5: minute hour day-of-month month day-of-week"
        )
    sets = [expand(value, f) for value, f in zip(parts, FIELDS)]
    _check_date_exists(parts, sets)
    return " ".join(_one_value_ranges(value, f) for value, f in zip(parts, FIELDS))


def _one_value_ranges(value: str, f: Field) -> str:
    """`5-5` written `5`: croniter (7.0) reads a range of one value as `*`."""
    def one(part: str) -> str:
        base, slash, step = part.partition("/")
        ends = base.split("-")
        if len(ends) == 2 and _number(ends[0], f) == _number(ends[1], f):
            base = ends[0]
        return base + slash + step

    return ",".join(one(p) for p in value.split(","))


def expand(value: str, f: Field) -> set[int]:
    """The numbers one field matches (`*/15`, `1-5`, `mon-fri`, `5/20`, lists of these)."""
    out: set[int] = set()
    for part in value.split(","):
        base, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"{f.name}: step `/{step}` must be a positive number")
        if base == "*":
            first, last = f.low, f.high
        else:
            bounds = base.split("-")
            if len(bounds) > 2:
                raise ValueError(f"{f.name}: `{base}` is not a value or a range")
            numbers = [_number(b, f) for b in bounds]
            if len(numbers) == 2 and numbers[0] > numbers[1]:
                raise ValueError(f"{f.name}: range `{base}` runs backwards")
            first, last = numbers[0], (numbers[-1] if len(numbers) == 2 or not slash else f.open_end or f.high)
            if slash and len(numbers) == 1 and f.open_end and first > f.open_end:
                first = first % (f.open_end + 1)  # `7/2`: day 7 is Sunday, so it steps from 0 (as croniter does)
        out.update(range(first, last + 1, int(step) if slash else 1))
    return out


def _number(text: str, f: Field) -> int:
    if text.lower() in f.names:
        return f.names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"{f.name}: `{text}` is not a number")
    number = int(text)
    if not f.low <= number <= f.high:
        raise ValueError(f"{f.name}: {number} is outside {f.low}-{f.high}")
    return number


def _check_date_exists(parts: list[str], sets: list[set[int]]) -> None:
    """A schedule whose days of the month never occur in its months (31 February) never runs.
    A restricted day-of-week fires on its own (either day field matches), so only a `*` one counts."""
    days, months = sets[2], sets[3]
    if parts[4] != "*" or parts[2] == "*":
        return
    if not any(d <= _DAYS_IN_MONTH[m - 1] for d in days for m in months):
        raise ValueError(f"day {parts[2]} of month {parts[3]} never occurs, so the schedule never runs")


def next_run(expression: str, after: dt.datetime) -> dt.datetime:
    """The first minute strictly after `after` the schedule fires (an @alias works too)."""
    from croniter import croniter

    return croniter(normalize(expression), after).get_next(dt.datetime)


__all__ = ["ALIASES", "FIELDS", "expand", "fields", "next_run", "normalize"]
