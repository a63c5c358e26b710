"""Parsers for the value formats the schema only checks loosely: durations, sizes, cpu
(cron: `mlopsc.cron`).

Each parser raises ValueError with a message that names what was expected.
"""

from __future__ import annotations

import re

from .cron import normalize as cron  # noqa: F401 (kept under its old name for callers)

_DURATION = re.compile(r"^([0-9]+)(s|m|h|d)$")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_SIZE_FACTOR = {
    None: 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}

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


def format_duration(seconds: int) -> str:
    """14400 -> `4h`: the largest unit that divides the duration (the inverse of duration_seconds)."""
    for unit in ("d", "h", "m"):
        if seconds % _DURATION_SECONDS[unit] == 0:
            return f"{seconds // _DURATION_SECONDS[unit]}{unit}"
    return f"{seconds}s"
