"""E620-E623 over the document: numbers that are not finite or beyond what any platform
accepts, bounds out of order, and settings that contradict each other.

They read the document rather than the IR so they also run when the schema found errors, and
so a NaN or a 1e400 never reaches normalization or a target (where it used to crash).
"""

from __future__ import annotations

import math

from .. import units
from ..loader import Document, Path
from .document import Found, dotted, is_number, leaves, mappings, value_at

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

# Past 2**53 a JSON number no longer holds an exact integer; no setting needs more.
LARGEST_NUMBER = 2**53
# The strictest real limit among the targets, so a spec that validates compiles everywhere.
LONGEST_JOB = 28 * 86400  # SageMaker MaxRuntimeInSeconds / MaxWaitTimeInSeconds
LONGEST_DURATION = 366 * 86400  # intervals, TTLs, load tests: a year is already far past any use
MOST_CPUS = 896  # the largest machine type any target offers (EC2 u7i: 896 vCPUs)
MOST_MEMORY = 32 * 2**40  # 32 TiB, the largest such machine's memory
MOST_GPUS = 16  # per job: Vertex a2-megagpu-16g; SageMaker's largest have 8
MOST_REPLICAS = 1000
JOB_DURATIONS = ("max_runtime", "max_wait")


def check(doc: Document) -> list:
    found = Found(doc)
    for path, value in leaves(doc.data):
        _finite(found, path, value) or _limits(found, path, value)
    for path, mapping in mappings(doc.data):
        _ordered(found, path, mapping)
    _contradictions(found, doc.data)
    return found.items


def _finite(found: Found, path: Path, value: Any) -> bool:
    if not is_number(value):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        found.error(path, "E620", f"{dotted(path)}: `{value}` is not a finite number",
                    "write a plain number; NaN and infinity mean nothing to any platform")
        return True
    if abs(value) > LARGEST_NUMBER:
        found.error(path, "E621", f"{dotted(path)}: the number is too large (more than 2^53)",
                    "no setting needs a number this large; check for a typo")
        return True
    return False


def _limits(found: Found, path: Path, value: Any) -> None:
    if "hyperparameters" in path or "labels" in path:
        return  # free-form: the user's own keys, whatever they are named
    key = path[-1] if path else None
    parent = path[-2] if len(path) > 1 else None
    try:
        if key in JOB_DURATIONS or (parent == "spot" and key == "max_wait"):
            _at_most(found, path, units.duration_seconds(value), LONGEST_JOB, units.format_duration,
                     "SageMaker stops any job after 28 days, the strictest limit among the targets")
        elif key in ("interval", "duration", "ttl"):
            _at_most(found, path, units.duration_seconds(value), LONGEST_DURATION, units.format_duration,
                     "write a duration of at most 366d")
        elif parent == "resources" and key == "cpu":
            _at_most(found, path, units.cpu_cores(value), MOST_CPUS, _cores,
                     "no target offers a machine with more CPUs")
        elif parent == "resources" and key == "memory":
            _at_most(found, path, units.size_bytes(value), MOST_MEMORY, _tib,
                     "no target offers a machine with more memory")
        elif parent == "gpu" and key == "count" and is_number(value):
            _at_most(found, path, value, MOST_GPUS, str, "no target offers a machine with more GPUs")
        elif key in ("min_replicas", "max_replicas") and is_number(value):
            _at_most(found, path, value, MOST_REPLICAS, str, "ask for fewer replicas per deployment")
    except (ValueError, TypeError):
        return  # a malformed value: the schema or normalization reports it


def _at_most(found: Found, path: Path, amount, limit, show, hint: str) -> None:
    if amount > limit:
        found.error(path, "E621", f"{dotted(path)}: more than the {show(limit)} any target accepts", hint)


def _cores(n: float) -> str:
    return f"{n:g} cores"


def _tib(n: int) -> str:
    return f"{n // 2**40}Ti"


def _ordered(found: Found, path: Path, mapping: dict) -> None:
    low, high = mapping.get("min"), mapping.get("max")
    if is_number(low) and is_number(high) and low > high:
        found.error(path + ("min",), "E622", f"{dotted(path)}: `min` ({low:g}) is above `max` ({high:g})",
                    "swap them, or drop one of the two")
    for kind in ("uniform", "log_uniform", "int_uniform"):
        bounds = mapping.get(kind)
        if isinstance(bounds, list) and len(bounds) == 2 and all(is_number(b) for b in bounds):
            if bounds[0] > bounds[1]:
                found.error(path + (kind,), "E622", f"{dotted(path + (kind,))}: the range runs backwards "
                            f"({bounds[0]:g} to {bounds[1]:g})", "write `[low, high]`")
            elif kind == "log_uniform" and bounds[0] <= 0:
                found.error(path + (kind, 0), "E622", f"{dotted(path + (kind,))}: a log-uniform range must "
                            "start above 0", "for example `[0.0001, 0.1]`")
    trials, parallel = mapping.get("max_trials"), mapping.get("parallel_trials")
    if is_number(trials) and is_number(parallel) and parallel > trials:
        found.error(path + ("parallel_trials",), "E622",
                    f"{dotted(path)}: `parallel_trials` ({parallel}) is above `max_trials` ({trials})",
                    "at most `max_trials` trials can run at once")


def _contradictions(found: Found, data: dict) -> None:
    environments = value_at(data, ("deployment", "environments"))
    environments = environments if isinstance(environments, dict) else {}
    on_violation = value_at(data, ("monitoring", "on_violation"))
    if isinstance(on_violation, list) and "rollback" in on_violation and not environments:
        at = ("monitoring", "on_violation", on_violation.index("rollback"))
        found.error(at, "E623", "`rollback` needs a deployment to roll back, and no environment is defined",
                    "add `deployment.environments`, or remove `rollback`")
    evals = data.get("evals") if isinstance(data.get("evals"), dict) else {}
    baseline = evals.get("baseline", "none")
    if evals.get("max_regression") and baseline == "none":
        found.error(("evals", "max_regression"), "E623", "`max_regression` compares with a baseline, and "
                    "`baseline` is none", "set `evals.baseline` to the environment serving the champion", key=True)
    if baseline == "none" and "none" in environments and "baseline" in evals:
        found.error(("evals", "baseline"), "E623", "`baseline: none` is ambiguous: an environment is named `none`",
                    "rename the environment `none`")
