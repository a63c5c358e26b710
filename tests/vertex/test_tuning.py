"""The sweep as a Vertex HyperparameterTuningJob: the compiled body parses (strictly) into
aiplatform's CreateHyperparameterTuningJobRequest, and a trial's container turns Vertex's
`--name=value` arguments into the train step's hyperparameters and reports the objective."""

import json
import os
from pathlib import Path

import pytest
from google.cloud.aiplatform_v1.types import CreateHyperparameterTuningJobRequest, StudySpec
from google.protobuf import json_format
from mlopsc import api
from mlopsc.runtime import actions_train, tuning_trial

ROOT = Path(__file__).resolve().parents[2]
BODY = "jobs/train.hyperparameter-tuning-job.json"


def compile_vertex(text=None, tmp_path=None):
    cwd = os.getcwd()
    try:
        if text is None:
            os.chdir(ROOT)
            result = api.compile_spec("specs/churn.yaml", ["vertex"])
        else:
            (tmp_path / "churn.yaml").write_text(text, encoding="utf-8")
            os.symlink(ROOT / "specs" / "churn_local", tmp_path / "churn_local")
            os.chdir(tmp_path)
            result = api.compile_spec("churn.yaml", ["vertex"])
    finally:
        os.chdir(cwd)
    assert result.ok, result.diagnostics
    return result.bundles["vertex"]


def parse(body):
    request = CreateHyperparameterTuningJobRequest()
    json_format.ParseDict({"parent": "projects/acme-ml/locations/us-central1", "hyperparameterTuningJob": body},
                          CreateHyperparameterTuningJobRequest.pb(request), ignore_unknown_fields=False)
    return request.hyperparameter_tuning_job


def test_the_body_parses_into_aiplatforms_request_type():
    job = parse(json.loads(compile_vertex()[BODY]))
    assert job.max_trial_count == 20 and job.parallel_trial_count == 4
    spec = job.study_spec
    assert spec.algorithm == StudySpec.Algorithm.ALGORITHM_UNSPECIFIED  # Vertex's default: Bayesian
    assert spec.metrics[0].metric_id == "val_auc" and spec.metrics[0].goal == StudySpec.MetricSpec.GoalType.MAXIMIZE
    lr = next(p for p in spec.parameters if p.parameter_id == "lr")
    assert lr.scale_type == StudySpec.ParameterSpec.ScaleType.UNIT_LOG_SCALE
    assert (lr.double_value_spec.min_value, lr.double_value_spec.max_value) == (0.0001, 0.01)
    pool = job.trial_job_spec.worker_pool_specs[0]
    assert pool.container_spec.command == ["python", "-m", "mlopsc.runtime.tuning_trial"]
    assert pool.machine_spec.accelerator_count == 1 and pool.replica_count == 1


def test_a_strict_parse_rejects_a_field_vertex_does_not_have():
    body = json.loads(compile_vertex()[BODY])
    body["studySpec"]["objective"] = "val_auc"
    with pytest.raises(json_format.ParseError):
        parse(body)


@pytest.mark.parametrize("strategy, algorithm", [("grid", "GRID_SEARCH"), ("random", "RANDOM_SEARCH")])
def test_the_strategy_picks_vertexs_algorithm(tmp_path, strategy, algorithm):
    text = (ROOT / "specs" / "churn.yaml").read_text(encoding="utf-8").replace("strategy: bayesian",
                                                                             f"strategy: {strategy}")
    job = parse(json.loads(compile_vertex(text, tmp_path)[BODY]))
    assert job.study_spec.algorithm == StudySpec.Algorithm[algorithm]


def test_a_trial_turns_vertex_arguments_into_hyperparameters(monkeypatch, tmp_path):
    body = json.loads(compile_vertex()[BODY])
    args = body["trialJobSpec"]["workerPoolSpecs"][0]["containerSpec"]["args"]
    monkeypatch.setenv("MLOPSC_TRAIN_DATA", "gs://acme/run-1/features")
    step, hp = tuning_trial.split([*args, "--lr=0.0042", "--hidden=[128,64]"])
    assert hp == {"lr": "0.0042", "hidden": "[128,64]"}
    assert step[0] == "train" and "data=gs://acme/run-1/features" in step
    for name in [k for k in os.environ if k.startswith(actions_train.KATIB_HP)]:
        monkeypatch.delenv(name)
    for name, value in hp.items():
        monkeypatch.setenv(actions_train.KATIB_HP + name, value)
    assert actions_train.tuning_hyperparameters() == {"lr": 0.0042, "hidden": [128, 64]}
    # the objective, as cloudml-hypertune reports it to Vertex
    metrics = tmp_path / "output.metrics"
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "7")
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(metrics))
    actions_train.report_trial_metric("val_auc", 0.91)
    line = json.loads(metrics.read_text().splitlines()[-1])
    assert line["trial"] == "7" and float(line["val_auc"]) == 0.91
