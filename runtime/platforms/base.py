"""`Platform`: what differs between the targets when a step runs (the run-time counterpart of
the compile side's `Target`).

A platform answers seven questions for the steps:

- the tracking store (`tracking_uri`, `tracker`): shared by every platform today, see
  `tracking_store`;
- data and artifacts (`storage`): local paths today, see `storage`;
- deploying a model version to an environment and walking its rollout (`deploy`);
- calling the deployed endpoint for the smoke and load tests (`smoke_test`, `load_test`);
- deciding approval (`approve`);
- sending an alert (`send_alerts`): shared by every platform today, see `alerts`;
- reading a run's final state (`run_succeeded`): each platform spells success its own way.

Each platform module (`local`, `sagemaker`, `kubeflow`, `vertex`) defines a class named
`Platform`; `platforms.platform_for(name)` finds it.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from mlopsc import ir
from mlopsc.runtime.platforms import alerts
from mlopsc.runtime.platforms.storage import LocalStorage, Storage
from mlopsc.runtime.platforms.tracking_store import (
    missing_tracking_message,
    resolve_tracking_uri,
    tracking_server_problem,
)
from mlopsc.runtime.steps import StepContext, StepFailed

if TYPE_CHECKING:
    from mlopsc.runtime.tracking import Tracker


class Platform(ABC):
    """One target's run-time behaviour; subclasses override what differs."""

    name: ClassVar[str] = ""
    storage: ClassVar[Storage] = LocalStorage()
    # The final states this platform hands the failure notification for a run that succeeded
    # (KFP's `PipelineTaskFinalStatus.state` on Vertex and in kfp.local; others override it).
    succeeded_states: ClassVar[frozenset[str]] = frozenset({"SUCCEEDED"})
    # A cloud step's filesystem dies with its container: its runs and models must go to a
    # tracking server every step reaches, never to an embedded store inside the container.
    shared_tracking: ClassVar[bool] = True
    # Where a failed step writes its message for the platform to show (None: stderr is enough).
    failure_file: ClassVar[Path | None] = None

    # -- the run's final state

    def run_succeeded(self, state: str | None) -> bool:
        """Whether a run's final state, as this platform reports it, means it succeeded."""
        return isinstance(state, str) and state.strip() in self.succeeded_states

    # -- the tracking store

    def tracking_uri(self, ctx: StepContext) -> str | None:
        """The step's MLflow store; None is the embedded store under the work directory. In a
        step process `MLFLOW_TRACKING_URI` is the orchestrator's choice (`mlopsc run` sets it
        after applying the order of `tracking_store`; a compose file sets its MLflow service),
        so it counts as explicit here."""
        explicit = ctx.tracking_uri or ctx.args.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
        uri = resolve_tracking_uri(explicit, ctx.project)
        if uri is None and self.shared_tracking:
            raise StepFailed(missing_tracking_message(ctx.project, self.name))
        return uri

    def tracker(self, ctx: StepContext) -> Tracker:
        from mlopsc.runtime.tracking import Tracker

        uri = self.tracking_uri(ctx)
        if uri and self.shared_tracking:
            problem = tracking_server_problem(uri)
            if problem:
                raise StepFailed(problem)
        return Tracker(ctx.root, experiment=ctx.project.tracking.experiment, tracking_uri=uri)

    # -- alerts

    def send_alerts(self, channels: list[str], message: dict, log: Callable[[str], None] = print) -> list[dict]:
        return alerts.send_alerts(channels, message, log)

    # -- approval, deployment, the endpoint

    def resolve_model(self, ctx: StepContext, model: str, requested: str | None) -> str:
        """The registry version a deploy run acts on: `latest` is the newest registered version."""
        from mlopsc.runtime.platforms.mlflow_registry import resolve_version

        return resolve_version(self.tracker(ctx), model, requested)

    def prepare_endpoint(self, ctx: StepContext, env: ir.Environment, model: str) -> dict:
        """Create or read the environment's endpoint and compute its first traffic split (the step
        before the model deploy where a platform deploys in two steps: Vertex)."""
        raise StepFailed(f"the {self.name} target has no endpoint preparation step")

    @abstractmethod
    def approve(self, ctx: StepContext, model: str, environment: str) -> dict:
        """Pass when the model version is approved for `environment`; otherwise approve it when an
        approver says so, or stop saying how to approve. Returns {"version", "approved", ...}."""

    @abstractmethod
    def deploy(self, ctx: StepContext, env: ir.Environment, model: str) -> dict:
        """Deploy the step's model version to `env` with the environment's strategy and walk the
        rollout. Returns {"endpoint", "version", "state", ...}; `endpoint` is what the smoke and
        load tests are given."""

    @abstractmethod
    def smoke_test(self, ctx: StepContext, endpoint: str, instances: list[dict]) -> dict:
        """The endpoint is up and answers one prediction per instance: {"passed", "checks", ...}."""

    @abstractmethod
    def load_test(self, ctx: StepContext, endpoint: str, instances: list[dict], *, rps: float,
                  duration_s: float, max_p95_ms: float | None) -> dict:
        """Paced requests (`traffic.paced`): {"passed", "requests", "p95_ms", "errors", ...}."""


class RolloutNotImplemented(Platform):
    """A platform whose deploy and endpoint calls the runtime does not implement yet: the step
    stops with a message naming the target and the mechanism, instead of pretending. Approval
    is the MLflow registry alias `approved-<environment>`, which works from any step: the step
    waits for it (`approval_wait`)."""

    mechanism: ClassVar[str] = ""  # what deploying there would do, for the message

    def not_implemented(self, what: str) -> StepFailed:
        return StepFailed(f"{what} on the {self.name} target ({self.mechanism}) is not implemented in the "
                          "mlopsc runtime yet: only a local run and SageMaker deploy")

    def approve(self, ctx: StepContext, model: str, environment: str) -> dict:
        from mlopsc.runtime.platforms.mlflow_registry import approve_by_alias

        return approve_by_alias(ctx, self.tracker(ctx), model, environment)

    def deploy(self, ctx: StepContext, env: ir.Environment, model: str) -> dict:
        raise self.not_implemented("deploying")

    def smoke_test(self, ctx: StepContext, endpoint: str, instances: list[dict]) -> dict:
        raise self.not_implemented("calling a deployed endpoint (smoke test)")

    def prepare_endpoint(self, ctx: StepContext, env: ir.Environment, model: str) -> dict:
        raise self.not_implemented("preparing the endpoint")

    def load_test(self, ctx: StepContext, endpoint: str, instances: list[dict], *, rps: float,
                  duration_s: float, max_p95_ms: float | None) -> dict:
        raise self.not_implemented("calling a deployed endpoint (load test)")


__all__ = ["Platform", "RolloutNotImplemented"]
