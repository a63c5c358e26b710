"""Every step's Arguments against botocore's service model (see botocore_check for expressions)."""

import json

import pytest
from sm_botocore import check_request, check_step
from sm_helpers import all_steps, definitions


def test_every_step_matches_its_request(compiled):
    _, files, _ = compiled
    problems, seen = [], set()
    for path, definition in definitions(files).items():
        for step in all_steps(definition["Steps"]):
            seen.add(step["Type"])
            if step["Type"] in ("Condition", "Fail"):
                continue
            problems += [f"{path}: {p}" for p in check_step(step)]
    assert not problems, "\n".join(problems)
    assert {"Processing", "Condition", "RegisterModel", "Fail"} <= seen


def test_the_validator_catches_injected_errors(compiled):
    _, files, _ = compiled
    train = json.loads(files["pipelines/train.json"])
    job = next(s for s in all_steps(train["Steps"]) if s["Type"] in ("Training", "Tuning"))
    args = job["Arguments"]
    if job["Type"] == "Tuning":
        operation = "CreateHyperParameterTuningJob"
        broken = json.loads(json.dumps(args))
        broken["TrainingJobDefinition"]["StopingCondition"] = broken["TrainingJobDefinition"].pop("StoppingCondition")
    else:
        operation = "CreateTrainingJob"
        broken = json.loads(json.dumps(args))
        broken["StopingCondition"] = broken.pop("StoppingCondition")
    assert check_request(operation, broken)
    proc = next(s for s in all_steps(train["Steps"]) if s["Type"] == "Processing")
    wrong = json.loads(json.dumps(proc["Arguments"]))
    wrong["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = "one"
    assert check_request("CreateProcessingJob", wrong, "ProcessingJobName")
    wrong = json.loads(json.dumps(proc["Arguments"]))
    wrong["ProcessingResources"]["ClusterConfig"]["InstanceType"] = "ml.nonexistent.large"
    assert check_request("CreateProcessingJob", wrong, "ProcessingJobName")
    # an expression where a structure is expected is not accepted
    wrong = json.loads(json.dumps(proc["Arguments"]))
    wrong["AppSpecification"] = {"Get": "Parameters.image"}
    assert check_request("CreateProcessingJob", wrong, "ProcessingJobName")


def test_spot_training_waits_at_least_as_long_as_it_runs(compiled):
    _, files, _ = compiled
    train = json.loads(files["pipelines/train.json"])
    job = next(s for s in all_steps(train["Steps"]) if s["Type"] in ("Training", "Tuning"))
    args = job["Arguments"].get("TrainingJobDefinition", job["Arguments"])
    assert args["EnableManagedSpotTraining"] is True
    stop = args["StoppingCondition"]
    assert stop["MaxWaitTimeInSeconds"] >= stop["MaxRuntimeInSeconds"]
    assert args["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert args["CheckpointConfig"]["S3Uri"].startswith("s3://")


def test_gate_condition_reads_passed_from_the_evaluation_report(compiled):
    _, files, _ = compiled
    train = json.loads(files["pipelines/train.json"])
    evaluate = next(s for s in train["Steps"] if s["Name"] == "evaluate")
    assert {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation",
            "FilePath": "evaluation.json"} in evaluate["PropertyFiles"]
    gate = next(s for s in train["Steps"] if s["Type"] == "Condition")
    cond = gate["Arguments"]["Conditions"][0]
    assert cond["LeftValue"] == {"Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.evaluate.PropertyFiles.EvaluationReport"}, "Path": "passed"}}
    assert [s["Type"] for s in gate["Arguments"]["IfSteps"]] == ["RegisterModel"]
    assert [s["Type"] for s in gate["Arguments"]["ElseSteps"]] == ["Fail"]
    register = gate["Arguments"]["IfSteps"][0]["Arguments"]
    assert register["ModelApprovalStatus"] == "PendingManualApproval"
    message = gate["Arguments"]["ElseSteps"][0]["Arguments"]["ErrorMessage"]
    assert "evaluation gate failed" in json.dumps(message)


def test_runtime_values_are_parameters(compiled):
    project, files, _ = compiled
    train = json.loads(files["pipelines/train.json"])
    names = [p["Name"] for p in train["Parameters"]]
    assert names == [p.name for p in project.pipeline("train").params]
    text = files["pipelines/train.json"]
    assert '"Get": "Parameters.git_commit"' in text and '"Get": "Parameters.image"' in text
    assert "Std:Join" in text


@pytest.mark.parametrize("needle", ["/opt/ml/processing/input/", "/opt/ml/processing/output/"])
def test_processing_uses_sagemaker_container_paths(compiled, needle):
    _, files, _ = compiled
    assert needle in files["pipelines/train.json"]
