"""How often a pipeline runs in a month, from its cron schedule and triggers.

A month is 730 hours (365 * 24 / 12), the convention cloud price lists use, so 30.4167 days.
"""

from __future__ import annotations

HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
# Documented defaults when the spec says nothing more precise:
DATA_TRIGGER_RUNS = 4.0  # `triggers.data: retrain`: one new data version a week
MANUAL_RUNS = 4.0  # a train pipeline with no schedule and no data trigger: run by hand weekly

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_NAMES = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
          "oct": 10, "nov": 11, "dec": 12, "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _NAMES[text.lower()]


def _values(text: str, low: int, high: int) -> set[int]:
    """The values one cron field matches (`*`, `a`, `a-b`, each with an optional `/step`)."""
    found: set[int] = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            start, end = low, high
        else:
            bounds = [_number(b) for b in base.split("-")]
            start = bounds[0]
            end = bounds[-1] if len(bounds) > 1 else (high if step else start)
        found.update(range(start, end + 1, int(step) if step else 1))
    return {0 if v == 7 else v for v in found}  # day-of-week 7 is Sunday


def runs_per_month(cron: str) -> float:
    """Expected runs in a 730-hour month of a checked 5-field cron expression."""
    minute, hour, dom, month, dow = cron.split()
    per_day = len(_values(minute, 0, 59)) * len(_values(hour, 0, 23))
    months = len(_values(month, 1, 12)) / 12
    if dom == "*" and dow == "*":
        days = DAYS_PER_MONTH
    elif dow == "*":
        days = len(_values(dom, 1, 31))  # each listed day once a month
    elif dom == "*":
        days = len(_values(dow, 0, 6)) / 7 * DAYS_PER_MONTH
    else:  # cron runs when either matches
        days = min(DAYS_PER_MONTH, len(_values(dom, 1, 31)) + len(_values(dow, 0, 6)) / 7 * DAYS_PER_MONTH)
    return per_day * days * months


def train_runs(schedule: str | None, data_trigger: str | None) -> tuple[float, str]:
    """Train runs a month and the assumption behind the number."""
    runs, why = 0.0, []
    if schedule:
        runs += runs_per_month(schedule)
        why.append(f"schedule `{schedule}`")
    if data_trigger == "retrain":
        runs += DATA_TRIGGER_RUNS
        why.append(f"data trigger ({DATA_TRIGGER_RUNS:g} new versions a month assumed)")
    if not why:
        return MANUAL_RUNS, f"no schedule or data trigger: {MANUAL_RUNS:g} manual runs a month assumed"
    return runs, " + ".join(why)
