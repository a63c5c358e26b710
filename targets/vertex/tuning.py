"""The sweep as a Vertex AI `HyperparameterTuningJob` body (`jobs/train.hyperparameter-tuning-job.json`,
the `hyperparameterTuningJob` of `CreateHyperparameterTuningJobRequest`).

Vertex passes a trial's hyperparameters as `--<name>=<value>` arguments after the container's
args: `python -m mlopsc.runtime.tuning_trial` turns them into the train step's trial
hyperparameters and runs the step, which reports the objective to Vertex's metric file (what the
cloudml-hypertune library writes). The train data reaches a trial through `MLOPSC_TRAIN_DATA`,
empty here: it is the run's data, filled in when the job is created for that run.
"""

from __future__ import annotations

import json

from mlopsc import ir
from mlopsc.contract import StepCall
from mlopsc.targets.base import spec_ref

from . import machines
from .jobs import gcp_labels
from .settings import settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

ALGORITHMS = {"bayesian": "ALGORITHM_UNSPECIFIED", "random": "RANDOM_SEARCH", "grid": "GRID_SEARCH"}
DATA_ENV = "MLOPSC_TRAIN_DATA"
TRIAL_MODULE = "mlopsc.runtime.tuning_trial"


def parameter(p: ir.SweepParameter) -> dict[str, Any]:
    values = ir.thaw(p.values)
    if p.distribution == "choice":
        return {"parameterId": p.name,
                "categoricalValueSpec": {"values": [v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
                                                    for v in values]}}
    if p.distribution == "int_uniform":
        return {"parameterId": p.name, "integerValueSpec": {"minValue": str(int(values[0])),
                                                            "maxValue": str(int(values[1]))},
                "scaleType": "UNIT_LINEAR_SCALE"}
    return {"parameterId": p.name, "doubleValueSpec": {"minValue": float(values[0]), "maxValue": float(values[1])},
            "scaleType": "UNIT_LOG_SCALE" if p.distribution == "log_uniform" else "UNIT_LINEAR_SCALE"}


def trial_args(project: ir.Project) -> list[str]:
    call = StepCall(action="train", spec=spec_ref(project), target="vertex", pipeline="train", step="train",
                    args=(("sweep", "true"),), inputs=(("data", f"$({DATA_ENV})"),),
                    outputs=(("model", "/tmp/mlopsc/trial/model"), ("metrics", "/tmp/mlopsc/trial/metrics")))
    return call.argv()[2:]  # after `mlopsc step`: the trial module takes the step's own argv


def worker_pool(project: ir.Project) -> dict[str, Any]:
    res = project.training.resources
    s = settings(project)
    machine = s.machine_types.get("training") or (machines.machine_for(res).name if machines.machine_for(res)
                                                  else "n1-standard-4")
    spec: dict[str, Any] = {"machineType": machine}
    accelerator = machines.accelerator(res)
    if accelerator and res.gpu_count:
        spec.update(acceleratorType=accelerator, acceleratorCount=res.gpu_count)
    return {"machineSpec": spec, "replicaCount": "1",
            "containerSpec": {"imageUri": f"{project.image.repository or project.name}:latest",
                              "command": ["python", "-m", TRIAL_MODULE], "args": trial_args(project),
                              "env": [{"name": DATA_ENV, "value": ""}]}}


def tuning_job(project: ir.Project) -> dict[str, Any]:
    sweep = project.training.sweep
    s = settings(project)
    job_spec: dict[str, Any] = {"workerPoolSpecs": [worker_pool(project)]}
    if s.service_account:
        job_spec["serviceAccount"] = s.service_account
    return {
        "displayName": f"{project.name}-train-sweep",
        "studySpec": {
            "metrics": [{"metricId": sweep.metric, "goal": sweep.goal.upper()}],
            "parameters": [parameter(p) for p in sweep.parameters],
            "algorithm": ALGORITHMS[sweep.strategy],
        },
        "maxTrialCount": sweep.max_trials,
        "parallelTrialCount": min(sweep.parallel_trials, sweep.max_trials),
        "maxFailedTrialCount": sweep.max_trials,
        "trialJobSpec": job_spec,
        "labels": gcp_labels(project, {"mlopsc-pipeline": "train"}),
    }
