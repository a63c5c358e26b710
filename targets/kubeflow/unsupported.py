"""What Kubeflow (KFP + KServe) cannot express, located at the spec line that asks for it."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.targets.base import cannot_express, note

NAME = "kubeflow"


def diagnostics(project: ir.Project) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if project.deployment:
        for env in project.deployment.environments:
            if env.strategy.type == "shadow":
                found.append(cannot_express(
                    NAME, env.strategy.span,
                    f"shadow traffic for `{env.name}`: a KServe InferenceService has no request mirroring "
                    "(kserve/kserve#2978 is open; the InferenceGraph mirroring node, #2670, was not merged)",
                    "use `strategy: {type: canary, steps: [...]}` with a small first step, or compile for "
                    "sagemaker or local, which mirror traffic natively"))
    gateway = project.llm.gateway if project.llm else None
    if gateway is not None:
        found.append(cannot_express(
            NAME, gateway.span,
            f"the `{gateway.engine}` gateway (`llm.gateway`): KServe serves models but has no routing "
            "gateway with hosted-provider routes, fallbacks, caching and budgets",
            "run the gateway outside this target (e.g. the LiteLLM proxy) or compile for local"))
    for span, spot in _spot(project):
        found.append(note(NAME, span, "spot capacity is not requested: Kubernetes has no portable spot "
                                      "setting, so the step runs on the nodes its GPU selector picks"))
    if project.training and project.training.sweep:
        found.append(note(NAME, project.training.sweep.span,
                          "the sweep runs inside the train step's pod (no Katib experiment); "
                          "`parallel_trials` share that pod's resources"))
    return found


def _spot(project: ir.Project) -> list[tuple[ir.Span, ir.Spot]]:
    found = []
    if project.training and project.training.spot and project.training.spot.enabled:
        found.append((project.training.spot.span, project.training.spot))
    ft = project.llm.fine_tune if project.llm else None
    if ft and ft.spot and ft.spot.enabled:
        found.append((ft.spot.span, ft.spot))
    return found
