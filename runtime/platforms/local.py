"""A local run (`mlopsc run`, or `mlopsc step` on this machine).

- deploy / rollout: model server processes for registry versions and a router in front of them
  (`localserve`), the strategy walked with traffic replayed from the eval dataset, automatic
  rollback when a rule trips (see `local_rollout`);
- approval: the registry version's `mlopsc.approval` tag; `MLOPSC_APPROVE=1` (`mlopsc run
  --approve`) or an answer at the terminal's prompt approves;
- smoke and load tests: HTTP to the router (`traffic`); the load test's duration is capped at
  `MLOPSC_LOAD_TEST_MAX_SECONDS` (default 10): a laptop does not load-test for minutes;
- tracking, data and alerts: as every platform (`base`).
"""

from __future__ import annotations

import os
import sys

from mlopsc import ir
from mlopsc.runtime.platforms import base
from mlopsc.runtime.platforms.mlflow_registry import already_approved, resolve_version
from mlopsc.runtime.steps import StepContext, StepFailed


class Platform(base.Platform):
    name = "local"
    shared_tracking = False  # the embedded SQLite store under the work directory serves a local run

    def approve(self, ctx: StepContext, model: str, environment: str) -> dict:
        tracker = self.tracker(ctx)
        version = resolve_version(tracker, model, ctx.inputs.get("model_version"))
        if already_approved(ctx, tracker, model, version):
            return {"version": version, "approved": True}
        how = approver(f"version {version} of {model}", environment)
        tracker.approve(model, version, approver=how)
        ctx.log(f"approved version {version} of {model} for {environment} ({how})")
        return {"version": version, "approved": True}

    def deploy(self, ctx: StepContext, env: ir.Environment, model: str) -> dict:
        from mlopsc.runtime.platforms.local_rollout import deploy

        return deploy(ctx, env, model, self.tracker(ctx))

    def smoke_test(self, ctx: StepContext, endpoint: str, instances: list[dict]) -> dict:
        from mlopsc.runtime.traffic import smoke_test

        return smoke_test(endpoint, instances)

    def load_test(self, ctx: StepContext, endpoint: str, instances: list[dict], *, rps: float,
                  duration_s: float, max_p95_ms: float | None) -> dict:
        from mlopsc.runtime.traffic import load_test

        cap = float(os.environ.get("MLOPSC_LOAD_TEST_MAX_SECONDS", "10"))
        if duration_s > cap:
            ctx.log(f"load test shortened from {duration_s:g} s to {cap:g} s on a local run "
                    "(MLOPSC_LOAD_TEST_MAX_SECONDS)")
            duration_s = cap
        return load_test(endpoint, instances, rps=rps, duration_s=duration_s, max_p95_ms=max_p95_ms)


def approver(what: str, environment: str) -> str:
    """Who approves `what` for `environment`: `MLOPSC_APPROVE` (with `MLOPSC_APPROVER`), else the
    person at the terminal; without either the step stops saying how to approve."""
    if os.environ.get("MLOPSC_APPROVE", "").lower() in ("1", "true", "yes"):
        return os.environ.get("MLOPSC_APPROVER") or "mlopsc run --approve"
    if sys.stdin is None or not sys.stdin.isatty():
        raise StepFailed(f"{what} needs approval for {environment}: rerun with --approve "
                         "(or answer the prompt in a terminal)")
    # the prompt ends its line: under `mlopsc run` this process's output is read line by line
    print(f"Approve {what} for {environment}? [y/N]", flush=True)
    if input().strip().lower() not in ("y", "yes"):
        raise StepFailed(f"{what} was not approved for {environment}")
    return os.environ.get("USER") or "interactive prompt"
