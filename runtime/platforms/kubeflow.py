"""Kubeflow at run time: tracking, data and alerts as every platform; approval through the
MLflow registry alias `approved-<environment>`.

The deploy pipeline's deploy/rollout step runs in a pod of the cluster under the service account
the bundle's `serving/rollout-rbac.yaml` grants InferenceServices in the namespace. It applies the
compiled InferenceService (`targets/kubeflow/kserve.py`) with `storageUri` = the registered
version's MLflow model directory (`export.kserve_storage_uri`), waits until Ready, walks
`canaryTrafficPercent` and judges each step from Prometheus (`kserve_rollout`). The registry alias
named after the environment then points at the version that serves there. A shadow environment
gets its challenger InferenceService and Istio mirror for the window instead (`kserve_shadow`).

Settings from the pod's environment: `MLOPSC_PROMETHEUS_URL` (default: the kube-prometheus
`prometheus-operated` Service in `monitoring`), `MLOPSC_ROLLOUT_ERROR_RATE_QUERY` /
`MLOPSC_ROLLOUT_P99_MS_QUERY` (PromQL templates, default Knative's queue-proxy metrics),
`MLOPSC_KSERVE_READY_TIMEOUT` (seconds, default 600), `MLOPSC_KUBE_API` (the API server).

Smoke and load tests speak KServe's protocol for the runtime (`kserve_protocol`).
"""

from __future__ import annotations

import os

from mlopsc import ir
from mlopsc.runtime.platforms.base import RolloutNotImplemented
from mlopsc.runtime.steps import StepContext

DEFAULT_PROMETHEUS = "http://prometheus-operated.monitoring.svc.cluster.local:9090"


class Platform(RolloutNotImplemented):
    name = "kubeflow"
    # The KFP backend reports the exit handler's DAG with its MLMD execution state (COMPLETE);
    # kfp.local, which runs the same IR, says SUCCEEDED.
    succeeded_states = frozenset({"COMPLETE", "SUCCEEDED"})
    mechanism = "applying the KServe InferenceService and walking canaryTrafficPercent"

    def deploy(self, ctx: StepContext, env: ir.Environment, model: str) -> dict:
        from mlopsc.runtime.export import kserve_storage_uri
        from mlopsc.runtime.platforms.kserve_rollout import RolledBack
        from mlopsc.runtime.platforms.mlflow_registry import require_approved, resolve_version

        tracker = self.tracker(ctx)
        version = resolve_version(tracker, model, ctx.inputs.get("model_version"))
        if env.requires_approval:
            require_approved(tracker, model, version, env.name)
        storage_uri = kserve_storage_uri(tracker, model, version)
        try:
            result = run_rollout(ctx, env, storage_uri)
        except RolledBack:
            tracker.set_version_tags(model, version, {f"mlopsc.rollout.{env.name}": "rolled_back"})
            raise
        if result["state"] in ("deployed", "promoted"):
            previous = tracker.version_for_alias(model, env.name)
            if previous is not None and str(previous.version) != version:
                tracker.set_alias(model, f"previous-{env.name}", str(previous.version))
            tracker.set_alias(model, env.name, version)
        ctx.log(f"{env.name}: version {version} of {model} {result['state']} at {result['endpoint']}")
        return {"endpoint": result["endpoint"], "version": version, "state": result["state"],
                "revision": result.get("revision")}

    def smoke_test(self, ctx: StepContext, endpoint: str, instances: list[dict]) -> dict:
        return kserve_endpoint(ctx, endpoint).smoke_test(instances)

    def load_test(self, ctx: StepContext, endpoint: str, instances: list[dict], *, rps: float,
                  duration_s: float, max_p95_ms: float | None) -> dict:
        from mlopsc.runtime.traffic import paced

        target = kserve_endpoint(ctx, endpoint)
        return {"url": target.predict_url, **paced(target.sender(), instances, rps=rps, duration_s=duration_s,
                                                   max_p95_ms=max_p95_ms)}


def environment_named(ctx: StepContext) -> ir.Environment:
    from mlopsc.runtime.deploy import environment

    return environment(ctx)


def kserve_endpoint(ctx: StepContext, url: str):
    """The environment's InferenceService at `url` (the deploy step's output), in its protocol."""
    from mlopsc.runtime.platforms.kserve_protocol import Endpoint
    from mlopsc.targets.kubeflow.kserve import service_name

    project = ctx.project
    runtime = project.deployment.serving.runtime if project.deployment else "custom"
    return Endpoint(url, service_name(project, environment_named(ctx)), runtime)


def walk_for(env: ir.Environment, args: dict[str, str]):
    """The strategy as the rollout controller walks it; the step's args override the spec's."""
    from mlopsc.runtime.platforms.kserve_rollout import Walk

    s = env.strategy
    if s.type == "shadow":
        return Walk("shadow", (0,), float(args.get("duration") or s.duration_seconds or s.interval_seconds or 0),
                    env.rollback)
    steps = tuple(int(x) for x in args["steps"].split(",")) if args.get("steps") else tuple(s.steps)
    interval = float(args.get("interval") or s.interval_seconds or 0)
    if s.type == "ab_test":
        steps, interval = (round((s.split or 0) * 100),), float(args.get("duration") or s.duration_seconds or interval)
    elif s.type == "blue_green":
        steps = (100,)
    return Walk(s.type, steps or (100,), interval, env.rollback)


def run_rollout(ctx: StepContext, env: ir.Environment, storage_uri: str) -> dict:
    from mlopsc.runtime.platforms.kserve_api import KubeClient
    from mlopsc.runtime.platforms.kserve_rollout import KServeRollout, Metrics
    from mlopsc.targets.kubeflow.kserve import inference_service

    manifest = inference_service(ctx.project, env)
    metrics = metrics_from_environment(Metrics)
    kube = KubeClient(manifest["metadata"]["namespace"])
    rollout = KServeRollout(kube, env.name, metrics, log=ctx.log,
                            ready_timeout_s=float(os.environ.get("MLOPSC_KSERVE_READY_TIMEOUT") or 600),
                            poll_s=float(os.environ.get("MLOPSC_KSERVE_POLL_SECONDS") or 5))
    walk = walk_for(env, ctx.args)
    if walk.strategy == "shadow":
        from mlopsc.runtime.platforms.kserve_shadow import ShadowRollout
        from mlopsc.targets.kubeflow import shadow

        return ShadowRollout(rollout).run(manifest["metadata"]["name"], shadow.challenger_service(ctx.project, env),
                                          shadow.virtual_service(ctx.project, env), storage_uri, walk)
    return rollout.deploy(manifest, storage_uri, walk)


def metrics_from_environment(metrics_class):
    """Where the rollout reads a revision's error rate and p99: the module docstring's variables."""
    import dataclasses

    metrics = metrics_class(os.environ.get("MLOPSC_PROMETHEUS_URL") or DEFAULT_PROMETHEUS)
    overrides = {field: os.environ[var] for field, var in (("error_rate_query", "MLOPSC_ROLLOUT_ERROR_RATE_QUERY"),
                                                           ("p99_ms_query", "MLOPSC_ROLLOUT_P99_MS_QUERY"))
                 if os.environ.get(var)}
    if os.environ.get("MLOPSC_ROLLOUT_MIN_WINDOW"):
        overrides["min_window_s"] = int(os.environ["MLOPSC_ROLLOUT_MIN_WINDOW"])
    return dataclasses.replace(metrics, **overrides)
