"""Spec parts SageMaker cannot express (E701) or that this target deliberately handles
differently (W702), each at its spec line."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic

from .. import llm_serving, tags
from ..base import cannot_express, note
from ..cloud import foreign_registry, shared_tracking
from . import cron, instance_types, serving, shadow_test
from .settings import settings

T = "sagemaker"


def unsupported(project: ir.Project) -> list[Diagnostic]:
    s = settings(project)
    found = shared_tracking(T, project) + foreign_registry(T, project, home="aws") + tags.notes(T, project)
    for pipeline in project.pipelines:
        found += _pipeline(project, pipeline, s)
    failing = [p.name for p in project.pipelines if p.on_failure is not None]
    if failing:
        found.append(note(T, project.span,
                          "SageMaker Pipelines have no exit handler, so the failure notification of the "
                          + ", ".join(failing) + " pipeline(s) is not a step; route the EventBridge event "
                          "'SageMaker Model Building Pipeline Execution Status Change' (Failed) to your alerts"))
    found += _sweep(project) + llm_serving.qlora_gpu(T, project)
    found += _serving(project, s)
    found += _schedules(project) + _capture_sample(project)
    if project.llm and project.llm.gateway:
        found.append(note(T, project.llm.gateway.span,
                          "the LLM gateway is not a SageMaker resource and is not deployed; "
                          "run it next to the endpoint"))
    return found


def _pipeline(project: ir.Project, pipeline: ir.Pipeline, s) -> list[Diagnostic]:
    found = []
    for step in pipeline.steps:
        use = "training" if step.kind in ("training", "tuning") else "processing"
        if step.kind in ("register", "fail") or step.resources is None:
            continue
        if instance_types.choose(step.resources, use, s.instance_types) is None:
            span = step.resources.span if step.resources.span != ir.NO_SPAN else step.span
            found.append(cannot_express(
                T, span, f"the resources of step `{step.name}` ({instance_types.describe(step.resources)})",
                f"no SageMaker {use} instance type has them; set targets.sagemaker.instance_types.{use}"))
        if step.spot and step.spot.enabled and step.max_runtime_seconds \
                and step.spot.max_wait_seconds < step.max_runtime_seconds:
            found.append(cannot_express(
                T, step.spot.span, f"spot max_wait shorter than max_runtime in step `{step.name}`",
                "SageMaker counts the run time inside MaxWaitTimeInSeconds; set max_wait >= max_runtime"))
    return found


def _sweep(project: ir.Project) -> list[Diagnostic]:
    sweep = project.training.sweep if project.training else None
    if sweep is None or sweep.strategy != "grid":
        return []
    return [cannot_express(T, p.span, f"a grid search over the range `{p.name}`",
                           "SageMaker grid search takes only categorical parameters; use `choice` or "
                           "strategy random/bayesian")
            for p in sweep.parameters if p.distribution != "choice"]


def _serving(project: ir.Project, s) -> list[Diagnostic]:
    plan = serving.serving(project)
    if plan is None or project.deployment is None:
        return []
    found = []
    serverless = serving.is_serverless(plan)
    if not serverless and serving.instance_type(plan, s) is None:
        found.append(cannot_express(
            T, plan.resources.span if plan.resources.span != ir.NO_SPAN else plan.span,
            f"the serving resources ({instance_types.describe(plan.resources)})",
            "no SageMaker endpoint instance type has them; set targets.sagemaker.instance_types.serving"))
    if plan.autoscaling.scales_to_zero and not serverless:
        found.append(note(T, plan.autoscaling.span,
                          "scaling to zero maps to serverless inference, which has no GPUs and at most 6 GiB; "
                          "these endpoints keep at least one instance"))
    for env in project.deployment.environments:
        st = env.strategy
        if serverless and st.type == "shadow":
            found.append(cannot_express(T, st.span, f"a shadow rollout to a serverless endpoint (`{env.name}`)",
                                        "SageMaker shadow variants need instance-backed endpoints; set "
                                        "min_replicas >= 1"))
        if st.type == "shadow" and (st.duration_seconds or 0) > shadow_test.MAX_DURATION_S:
            found.append(cannot_express(T, st.span, f"a shadow test in `{env.name}` longer than 30 days",
                                        "a SageMaker inference experiment runs at most 30 days; shorten "
                                        "`duration`, or drop it to keep the shadow variant until the next deploy"))
        if st.type in ("canary", "blue_green") and st.interval_seconds > serving.MAX_WAIT_INTERVAL:
            found.append(cannot_express(T, st.span, f"a rollout interval over 1h in `{env.name}`",
                                        "SageMaker bakes at most 3600 s between traffic shifts"))
            continue
        route = serving.routing(st)
        if route.timeout_seconds > serving.MAX_EXECUTION:
            found.append(cannot_express(T, st.span, f"a rollout in `{env.name}` longer than 8 hours",
                                        "SageMaker limits a blue/green update to 28800 s; use fewer steps or "
                                        "a shorter interval"))
        found += _traffic_sizes(env, route, max(1, plan.autoscaling.min_replicas))
        if route.dropped_steps:
            found.append(note(T, st.span,
                              f"SageMaker canary traffic shifting has one canary step: `{env.name}` shifts "
                              f"{route.step_percent}% then 100%; steps "
                              + ", ".join(f"{x}%" for x in route.dropped_steps)
                              + " are not separate shifts (use evenly spaced steps for LINEAR shifting)"))
    return found


# SageMaker's TrafficRoutingConfig: CanarySize at most 50% of the fleet, LinearStepSize 10-50%.
CANARY_MAX, LINEAR_RANGE = 50, (10, 50)


def _traffic_sizes(env: ir.Environment, route: serving.Routing, instances: int) -> list[Diagnostic]:
    """Steps SageMaker refuses, and steps it can only round to whole instances."""
    st, size = env.strategy, route.step_percent
    if route.type == "CANARY" and size > CANARY_MAX:
        return [cannot_express(T, st.span, f"a first canary step of {size}% in `{env.name}`",
                               f"SageMaker's canary is at most {CANARY_MAX}% of the fleet; start at {CANARY_MAX}% "
                               "or less")]
    if route.type == "LINEAR" and not LINEAR_RANGE[0] <= size <= LINEAR_RANGE[1]:
        return [cannot_express(T, st.span, f"linear steps of {size}% in `{env.name}`",
                               "SageMaker shifts linear traffic in steps of 10-50% of the fleet; use steps like "
                               "[10, 20, ..., 100] or a canary")]
    if route.type in ("CANARY", "LINEAR") and size * instances < 100:
        return [note(T, st.span, f"SageMaker shifts whole instances: {size}% of `{env.name}`'s {instances} "
                                 f"instance(s) is rounded up to one instance, so the first step takes "
                                 f"{100 // instances}% of the traffic, not {size}% (raise min_replicas to "
                                 f"{-(-100 // size)} for a {size}% step)")]
    return []


def _capture_sample(project: ir.Project) -> list[Diagnostic]:
    """DataCapture's InitialSamplingPercentage is a whole percent (1-100)."""
    m = project.monitoring
    if m is None or m.drift is None or serving.monitored_environment(project) is None:
        return []
    percent = max(1, round(m.capture_sample * 100))
    if abs(percent - m.capture_sample * 100) < 1e-9:
        return []
    return [note(T, m.span, f"monitoring.capture.sample {m.capture_sample:g}: SageMaker's DataCapture samples in whole "
                            f"percent, so the endpoint records {percent}% of requests")]


def _schedules(project: ir.Project) -> list[Diagnostic]:
    found = []
    if project.triggers and project.triggers.schedule and cron.aws_cron(project.triggers.schedule) is None:
        found.append(cannot_express(T, project.triggers.span, f"the schedule `{project.triggers.schedule}`",
                                    "AWS cron cannot combine a day of month with a weekday"))
    m = project.monitoring
    if m is not None:
        if cron.aws_cron(m.schedule) is None:
            found.append(cannot_express(T, m.span, f"the monitoring schedule `{m.schedule}`",
                                        "AWS cron cannot combine a day of month with a weekday"))
        if m.drift and cron.monitoring_cron(m.schedule) is None:
            found.append(cannot_express(T, m.span, f"Model Monitor on the schedule `{m.schedule}`",
                                        "Model Monitor runs hourly, daily at an hour (`0 H * * *`) or every N "
                                        "hours (`0 */N * * *`)"))
    return found
