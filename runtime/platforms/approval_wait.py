"""The approval step's wait: poll the registry until a person approves or rejects the version, or
the spec's `registry.approval.timeout` (default 24h) runs out.

An unattended pipeline (Kubeflow, Vertex, SageMaker) cannot ask anyone; it says once how to
approve, then polls. The registry is what a person changes (an MLflow alias or tag, or a
SageMaker model package's `ModelApprovalStatus`), so the decision survives the step and is
visible to the next one. `MLOPSC_APPROVAL_POLL_SECONDS` overrides the polling interval.
"""

from __future__ import annotations

import os
import time
from typing import Callable

from mlopsc import ir
from mlopsc.runtime.steps import StepContext, StepFailed
from mlopsc.units import format_duration

DEFAULT_TIMEOUT_S = 24 * 3600
APPROVED, REJECTED = "approved", "rejected"


def timeout_seconds(project: ir.Project) -> int:
    approval = project.registry.approval
    return approval.timeout_seconds if approval is not None else DEFAULT_TIMEOUT_S


def poll_interval(timeout_s: float) -> float:
    """Every 30 s for a wait of hours (the registry is a shared server), faster for short waits."""
    override = os.environ.get("MLOPSC_APPROVAL_POLL_SECONDS")
    if override:
        return max(0.05, float(override))
    return min(30.0, max(0.2, timeout_s / 20))


def wait_for_decision(ctx: StepContext, decide: Callable[[], tuple[str | None, str]], *, what: str,
                      environment: str, how: str, timeout_s: float,
                      clock: Callable[[], float] = time.monotonic,
                      sleep: Callable[[float], None] = time.sleep) -> str:
    """Poll `decide()` -> (approved | rejected | None, detail) until a decision or the timeout.

    Returns the approval's detail; a rejection or a timeout is a one-line `StepFailed` naming the
    environment (and, for a timeout, how long the step waited).
    """
    start = clock()
    told = False
    interval = poll_interval(timeout_s)
    while True:
        decision, detail = decide()
        if decision == APPROVED:
            return detail
        if decision == REJECTED:
            raise StepFailed(f"{what} was rejected for {environment}" + (f" ({detail})" if detail else ""))
        waited = clock() - start
        if waited >= timeout_s:
            raise StepFailed(f"approval for {environment} timed out after {_waited(waited)}: {what} was "
                             f"neither approved nor rejected (registry.approval.timeout)")
        if not told:
            ctx.log(f"{what} is waiting for approval for {environment} (up to {format_duration(int(timeout_s))}, "
                    f"checking every {interval:g} s): {how}")
            told = True
        sleep(min(interval, max(0.0, timeout_s - waited)))


def _waited(seconds: float) -> str:
    return format_duration(int(seconds)) if seconds >= 1 else f"{seconds:.1f}s"
