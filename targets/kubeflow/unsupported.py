"""What Kubeflow (KFP + KServe + Istio) cannot express, located at the spec line that asks for it,
and what it deliberately does differently (W702 notes)."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.targets import litellm_proxy, llm_serving, tags
from mlopsc.targets.base import cannot_express, note
from mlopsc.targets.cloud import shared_tracking

from . import gateway as gateway_files

NAME = "kubeflow"


def unsupported(project: ir.Project) -> list[Diagnostic]:
    # Kubeflow runs on any cloud (EKS, GKE, on premises): every registry may fit, so no W702 here.
    found = shared_tracking(NAME, project) + tags.notes(NAME, project) + llm_serving.qlora_gpu(NAME, project)
    found += llm_serving.sizing_notes(NAME, project)
    gateway = project.llm.gateway if project.llm else None
    if gateway is not None:
        found += _gateway(project, gateway)
    for span, _ in _spot(project):
        found.append(note(NAME, span, "spot capacity is not requested: Kubernetes has no portable spot "
                                      "setting, so the step runs on the nodes its GPU selector picks"))
    if project.training and project.training.sweep:
        found += _sweep(project, project.training.sweep)
    return found


def _gateway(project: ir.Project, gateway: ir.Gateway) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for route in gateway.routes:
        if route.provider == "self_hosted" and (project.llm.serving is None
                                                or gateway_files.self_hosted_url(project) is None):
            found.append(cannot_express(
                NAME, route.span,
                f"the self_hosted route `{route.name}` without a served model: the gateway calls the "
                "InferenceService of the last deployment environment",
                "add `llm.serving` and at least one `deployment.environments` entry"))
    found.append(note(NAME, gateway.span,
                      f"the LiteLLM gateway reads {', '.join(litellm_proxy.needs(gateway))} from the Secret "
                      f"`{gateway_files.name(project)}`, which must exist in the namespace"))
    return found


def _spot(project: ir.Project) -> list[tuple[ir.Span, ir.Spot]]:
    found = []
    if project.training and project.training.spot and project.training.spot.enabled:
        found.append((project.training.spot.span, project.training.spot))
    ft = project.llm.fine_tune if project.llm else None
    if ft and ft.spot and ft.spot.enabled:
        found.append((ft.spot.span, ft.spot))
    return found


def _sweep(project: ir.Project, sweep: ir.Sweep) -> list[Diagnostic]:
    from .katib import uses_katib

    if not uses_katib(project):
        return [note(NAME, sweep.span, "the sweep runs inside the train step's pod as an Optuna study "
                                       "(`tuner: katib` makes it a Katib Experiment); `parallel_trials` "
                                       "share that pod's resources")]
    found = [note(NAME, sweep.span, "the sweep is compiled as a Katib Experiment "
                                    "(tuning/train.experiment.yaml), but the train pipeline's step still runs it "
                                    "in process as an Optuna study; apply the Experiment to tune with Katib")]
    return found + [note(NAME, p.span, f"Katib's v1beta1 search space has no log scale: `{p.name}` is "
                                       "searched uniformly between its bounds")
                    for p in sweep.parameters if p.distribution == "log_uniform"]
