"""What Vertex AI cannot express (E701) or expresses differently (W702), at the spec line."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.targets import litellm_proxy, llm_serving, tags
from mlopsc.targets.base import cannot_express, note
from mlopsc.targets.cloud import foreign_registry, shared_tracking

from . import gateway as gateway_files
from . import machines
from .dialect import MACHINE_TYPE_KEYS
from .settings import settings

NAME = "vertex"


def unsupported(project: ir.Project) -> list[Diagnostic]:
    found = shared_tracking(NAME, project) + foreign_registry(NAME, project, home="gcp")
    found += tags.notes(NAME, project)
    found += _resources(project) + llm_serving.qlora_gpu(NAME, project) + llm_serving.sizing_notes(NAME, project)
    found += _deployment(project)
    gateway = project.llm.gateway if project.llm else None
    if gateway is not None:
        found += _gateway(project, gateway)
    sweep = project.training.sweep if project.training else None
    notes = [(span, ("spot capacity is not requested: a KFP container step on Vertex runs as an on-demand "
                    "custom job (only a CustomJob with `scheduling.strategy: SPOT` can use Spot VMs)"))
             for span in _spot_spans(project)]
    if sweep is not None:
        notes.append((sweep.span, ("the sweep is compiled as a Vertex HyperparameterTuningJob "
                                  "(jobs/train.hyperparameter-tuning-job.json), but the train pipeline's step "
                                  "still runs it in process as an Optuna study; `parallel_trials` share that "
                                  "machine there")))
    found += [note(NAME, span, text) for span, text in notes]
    return found


def _gateway(project: ir.Project, gateway: ir.Gateway) -> list[Diagnostic]:
    found = []
    if litellm_proxy.self_hosted_routes(gateway) and gateway_files.self_hosted_endpoint(project) is None:
        for route in litellm_proxy.self_hosted_routes(gateway):
            found.append(cannot_express(
                NAME, route.span,
                f"the self_hosted route `{route.name}` without a served model: the gateway calls the "
                "Vertex endpoint of the last deployment environment",
                "add `llm.serving` and at least one `deployment.environments` entry"))
    found.append(note(NAME, gateway.span, gateway_files.prerequisites(project)))
    return found


def _resources(project: ir.Project) -> list[Diagnostic]:
    found = []
    for res in _all_resources(project):
        if res.gpu_count and machines.accelerator(res) is None:
            found.append(cannot_express(
                NAME, res.span, f"GPU type `{res.gpu_type}`: Google Cloud does not offer it",
                f"use one of {', '.join(k for k, v in machines.ACCELERATORS.items() if v)}"))
    overrides = settings(project).machine_types
    for key in sorted(set(MACHINE_TYPE_KEYS.values())):
        name = overrides.get(key)
        if name and name not in machines.KNOWN:
            found.append(note(NAME, project.span, f"`targets.vertex.machine_types.{key}: {name}` is not in "
                                                  "mlopsc's machine table, so its size is unknown; the steps keep "
                                                  "their portable CPU and memory limits"))
    return found


def _deployment(project: ir.Project) -> list[Diagnostic]:
    if project.deployment is None:
        return []
    found = []
    llm = project.llm.serving if project.llm else None
    res = llm.resources if llm else project.deployment.serving.resources
    scaling = llm.autoscaling if llm else project.deployment.serving.autoscaling
    if res.gpu_count and machines.accelerator(res) and machines.machine_for(res) is None:
        found.append(cannot_express(NAME, res.span, "these serving resources: no machine in mlopsc's Vertex "
                                                    "table has that many cores, that much memory and GPUs"))
    if scaling.scales_to_zero:
        found.append(note(NAME, scaling.span, "scale to zero: a Vertex endpoint keeps at least one replica "
                                              "(min_replica_count 1)"))
    if scaling.target_concurrency:
        found.append(note(NAME, scaling.span, "`target_concurrency` is not passed: the deployed model is "
                                              "autoscaled on CPU utilization (Vertex's default, 60%)"))
    for env in project.deployment.environments:
        s = env.strategy
        if s.type == "shadow":
            found.append(note(NAME, s.span, (
                f"shadow traffic for `{env.name}`: Vertex endpoints cannot mirror requests, so the challenger "
                f"is deployed to the same endpoint at 0% traffic, the endpoint's request-response logging "
                f"(predictRequestResponseLoggingConfig, samplingRate {s.sample if s.sample is not None else 1.0}, "
                f"BigQuery) is enabled; the rollout step does not replay the logged sample to the challenger "
                f"({s.duration_seconds}s, rollback rules) yet: it stops before deploying, saying so")))
    return found


def _all_resources(project: ir.Project) -> list[ir.Resources]:
    found = []
    if project.training:
        found.append(project.training.resources)
    if project.llm and project.llm.fine_tune:
        found.append(project.llm.fine_tune.resources)
    if project.llm and project.llm.serving:
        found.append(project.llm.serving.resources)
    if project.deployment:
        found.append(project.deployment.serving.resources)
    return found


def _spot_spans(project: ir.Project) -> list[ir.Span]:
    found = []
    if project.training and project.training.spot and project.training.spot.enabled:
        found.append(project.training.spot.span)
    ft = project.llm.fine_tune if project.llm else None
    if ft and ft.spot and ft.spot.enabled:
        found.append(ft.spot.span)
    return found
