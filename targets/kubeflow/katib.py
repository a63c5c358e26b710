"""The sweep as a Katib `Experiment` (kubeflow.org/v1beta1), for `targets.kubeflow.tuner: katib`.

Each trial is a Kubernetes Job running the train step once, with the trial's hyperparameters in
`MLOPSC_TRIAL_HP_<name>` (Katib substitutes `${trialParameters.<name>}`); the step prints
`<metric>=<value>`, the format Katib's StdOut metrics collector reads. The train data reaches a
trial through `MLOPSC_TRAIN_DATA` (`$(MLOPSC_TRAIN_DATA)` in its argv, Kubernetes' own expansion),
left empty here: it is the run's data, filled in when the Experiment is created for that run.
"""

from __future__ import annotations

import re

from mlopsc import ir
from mlopsc.contract import StepCall
from mlopsc.targets.base import spec_ref
from mlopsc.targets.kfp_ir.resources import GPU_RESOURCE, cpu_quantity, memory_quantity

from .settings import settings

ALGORITHMS = {"bayesian": "tpe", "random": "random", "grid": "grid"}
HP_ENV = "MLOPSC_TRIAL_HP_"
DATA_ENV = "MLOPSC_TRAIN_DATA"
TRIAL_ENV = "MLOPSC_KATIB_TRIAL"  # the trial's name, tagged on its MLflow run
GRID_STEPS = 3  # as the in-process grid: 3 points per range


def uses_katib(project: ir.Project) -> bool:
    t = project.training
    return bool(t and t.sweep and settings(project).tuner == "katib")


def dns_name(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:50] or "mlopsc"


def trial_parameter(name: str) -> str:
    # Katib's trialParameters names are substituted as ${trialParameters.<name>}: keep them plain
    return re.sub(r"[^A-Za-z0-9]", "", name) or "p"


def parameter(p: ir.SweepParameter, strategy: str) -> dict:
    values = ir.thaw(p.values)
    if p.distribution == "choice":
        return {"name": p.name, "parameterType": "categorical",
                "feasibleSpace": {"list": [_text(v) for v in values]}}
    space = {"min": _text(values[0]), "max": _text(values[1])}
    if p.distribution == "int_uniform":
        return {"name": p.name, "parameterType": "int", "feasibleSpace": space}
    if strategy == "grid":  # Katib's grid needs a step for a double
        space["step"] = _text((float(values[1]) - float(values[0])) / (GRID_STEPS - 1))
    return {"name": p.name, "parameterType": "double", "feasibleSpace": space}


def _text(value: object) -> str:
    import json

    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def trial_call(project: ir.Project) -> list[str]:
    call = StepCall(action="train", spec=spec_ref(project), target="kubeflow", pipeline="train", step="train",
                    args=(("sweep", "true"),), inputs=(("data", f"$({DATA_ENV})"),),
                    outputs=(("model", "/tmp/mlopsc/trial/model"), ("metrics", "/tmp/mlopsc/trial/metrics")))
    return call.argv()


def trial_spec(project: ir.Project) -> dict:
    t = project.training
    env = [{"name": HP_ENV + p.name, "value": f"${{trialParameters.{trial_parameter(p.name)}}}"}
           for p in t.sweep.parameters]
    env += [{"name": TRIAL_ENV, "value": "${trialSpec.Name}"}, {"name": DATA_ENV, "value": ""}]
    requests = {"cpu": cpu_quantity(t.resources.cpu), "memory": memory_quantity(t.resources.memory_bytes)}
    resources = {"requests": requests}
    if t.resources.gpu_count:
        resources["limits"] = {GPU_RESOURCE: str(t.resources.gpu_count)}
    container = {"name": "training", "image": f"{project.image.repository or project.name}:latest",
                 "command": trial_call(project), "env": env, "resources": resources}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": {"mlopsc/step": "train"}},
                                                     "spec": {"restartPolicy": "Never", "containers": [container]}}}}


def experiment(project: ir.Project) -> dict:
    sweep = project.training.sweep
    s = settings(project)
    params = [parameter(p, sweep.strategy) for p in sweep.parameters]
    spec = {
        "objective": {"type": sweep.goal, "objectiveMetricName": sweep.metric},
        "algorithm": {"algorithmName": ALGORITHMS[sweep.strategy]},
        "parallelTrialCount": min(sweep.parallel_trials, sweep.max_trials),
        "maxTrialCount": sweep.max_trials,
        "maxFailedTrialCount": sweep.max_trials,
        "metricsCollectorSpec": {"collector": {"kind": "StdOut"}},
        "parameters": params,
        "trialTemplate": {
            "primaryContainerName": "training",
            "trialParameters": [{"name": trial_parameter(p.name), "reference": p.name,
                                 "description": f"hyperparameter {p.name}"} for p in sweep.parameters],
            "trialSpec": trial_spec(project),
            "successCondition": 'status.conditions.#(type=="Complete")#|#(status=="True")#',
            "failureCondition": 'status.conditions.#(type=="Failed")#|#(status=="True")#',
        },
    }
    metadata = {"name": f"{dns_name(project.name)}-train", "namespace": s.namespace,
                "labels": {"app.kubernetes.io/managed-by": "mlopsc"}}
    return {"apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment", "metadata": metadata, "spec": spec}
