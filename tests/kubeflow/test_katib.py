"""`targets.kubeflow.tuner: katib`: the sweep compiles to a Katib Experiment that validates against
Katib's published v1beta1 schema (tests/kubeflow/reference/katib-v1beta1.swagger.json, from the
kubeflow/katib repository) and the rules Katib's admission webhook adds; a trial's container runs
the train step with the trial's hyperparameters."""

import copy
import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from mlopsc import api, contract
from mlopsc.runtime import actions_train

ROOT = Path(__file__).resolve().parents[2]
SWAGGER = Path(__file__).with_name("reference") / "katib-v1beta1.swagger.json"
# Kubernetes types the Katib definitions reference (not part of Katib's file)
KUBERNETES = {
    "v1.ObjectMeta": {"type": "object", "additionalProperties": False, "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "v1.Time": {"type": "string"},
    "v1.Container": {"type": "object"},
    "v1.HTTPGetAction": {"type": "object"},
    "v1.unstructured.Unstructured": {"type": "object"},
}
ALGORITHMS = {"random", "grid", "tpe", "multivariate-tpe", "bayesianoptimization", "hyperband", "cmaes",
              "sobol", "enas", "darts", "pbt"}


def closed(schema):
    """Katib's structural schema as the API server applies it: unknown fields are pruned, so an
    object with declared properties must not carry others."""
    schema = copy.deepcopy(schema)
    for definition in schema["definitions"].values():
        for node in [definition, *definition.get("properties", {}).values()]:
            if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
    return schema


@pytest.fixture(scope="module")
def katib_schema():
    swagger = json.loads(SWAGGER.read_text(encoding="utf-8"))
    assert "kubeflow/katib" in swagger["info"]["x-source"]
    definitions = {**swagger["definitions"], **KUBERNETES}
    return closed({"definitions": definitions, "$ref": "#/definitions/v1beta1.Experiment"})


def compile_kubeflow(spec_text=None, tmp_path=None):
    if spec_text is None:
        os.chdir(ROOT)
        result = api.compile_spec("specs/churn.yaml", ["kubeflow"])
    else:
        (tmp_path / "churn.yaml").write_text(spec_text, encoding="utf-8")
        os.symlink(ROOT / "specs" / "churn_local", tmp_path / "churn_local")
        os.chdir(tmp_path)
        result = api.compile_spec("churn.yaml", ["kubeflow"])
    assert result.ok, result.diagnostics
    return result


@pytest.fixture(scope="module")
def experiment():
    cwd = os.getcwd()
    try:
        files = compile_kubeflow().bundles["kubeflow"]
    finally:
        os.chdir(cwd)
    return yaml.safe_load(files["tuning/train.experiment.yaml"])


def webhook_problems(exp):
    """The checks of Katib's experiment validator (pkg/webhook/v1beta1/experiment) we can run offline."""
    spec, problems = exp["spec"], []
    if spec["objective"].get("type") not in ("maximize", "minimize"):
        problems.append("objective.type")
    if not spec["objective"].get("objectiveMetricName"):
        problems.append("objectiveMetricName")
    if spec["algorithm"]["algorithmName"] not in ALGORITHMS:
        problems.append("algorithmName")
    if spec.get("maxTrialCount", 1) < spec.get("parallelTrialCount", 1):
        problems.append("maxTrialCount < parallelTrialCount")
    names = {p["name"] for p in spec["parameters"]}
    for p in spec["parameters"]:
        space = p["feasibleSpace"]
        if p["parameterType"] in ("int", "double"):
            low, high = float(space["min"]), float(space["max"])
            if low >= high or (p["parameterType"] == "int" and not (space["min"].lstrip("-").isdigit())):
                problems.append(f"feasibleSpace of {p['name']}")
        elif p["parameterType"] in ("categorical", "discrete"):
            if not space.get("list"):
                problems.append(f"list of {p['name']}")
        else:
            problems.append(f"parameterType of {p['name']}")
        if spec["algorithm"]["algorithmName"] == "grid" and p["parameterType"] == "double" and "step" not in space:
            problems.append(f"grid step of {p['name']}")
    template = spec["trialTemplate"]
    defined = {t["name"] for t in template["trialParameters"]}
    if any(t["reference"] not in names for t in template["trialParameters"]):
        problems.append("trialParameters reference")
    used = set(re.findall(r"\$\{trialParameters\.([^}]+)\}", json.dumps(template["trialSpec"])))
    if used != defined:
        problems.append("trialParameters used vs defined")
    containers = template["trialSpec"]["spec"]["template"]["spec"]["containers"]
    if template["primaryContainerName"] not in {c["name"] for c in containers}:
        problems.append("primaryContainerName")
    return problems


def test_the_experiment_validates_against_katibs_schema(experiment, katib_schema):
    jsonschema.validate(experiment, katib_schema)
    assert webhook_problems(experiment) == []
    assert experiment["apiVersion"] == "kubeflow.org/v1beta1" and experiment["kind"] == "Experiment"


def test_the_schema_check_rejects_what_katib_would_prune(experiment, katib_schema):
    bad = copy.deepcopy(experiment)
    bad["spec"]["objective"]["metric"] = "val_auc"  # not a field of ObjectiveSpec
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, katib_schema)
    bad = copy.deepcopy(experiment)
    bad["spec"]["maxTrialCount"] = "20"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, katib_schema)


def test_the_sweep_maps_onto_the_experiment(experiment):
    spec = experiment["spec"]
    assert spec["algorithm"]["algorithmName"] == "tpe"  # bayesian
    assert spec["objective"] == {"type": "maximize", "objectiveMetricName": "val_auc"}
    assert (spec["maxTrialCount"], spec["parallelTrialCount"]) == (20, 4)
    params = {p["name"]: p for p in spec["parameters"]}
    assert params["lr"]["parameterType"] == "double"
    assert params["hidden"] == {"name": "hidden", "parameterType": "categorical",
                                "feasibleSpace": {"list": ["[64,32]", "[128,64]"]}}
    assert spec["metricsCollectorSpec"] == {"collector": {"kind": "StdOut"}}


def test_a_trial_runs_the_train_step_with_its_hyperparameters(experiment, monkeypatch):
    job = experiment["spec"]["trialTemplate"]["trialSpec"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    call = contract.parse_argv(container["command"][2:]) if container["command"][:2] == ["mlopsc", "step"] \
        else pytest.fail(container["command"])
    assert call.action == "train" and dict(call.args) == {"sweep": "true"}
    assert contract.check_call(call) == []
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MLOPSC_TRIAL_HP_lr"] == "${trialParameters.lr}"
    # what the trial's step reads once Katib has substituted the values
    for name in [k for k in os.environ if k.startswith("MLOPSC_TRIAL_HP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MLOPSC_TRIAL_HP_lr", "0.0031")
    monkeypatch.setenv("MLOPSC_TRIAL_HP_hidden", "[128,64]")
    assert actions_train.tuning_hyperparameters() == {"lr": 0.0031, "hidden": [128, 64]}


def test_grid_and_random_strategies(tmp_path):
    text = (ROOT / "specs" / "churn.yaml").read_text(encoding="utf-8")
    grid = text.replace("strategy: bayesian", "strategy: grid")
    assert grid != text
    cwd = os.getcwd()
    try:
        exp = yaml.safe_load(compile_kubeflow(grid, tmp_path).bundles["kubeflow"]["tuning/train.experiment.yaml"])
    finally:
        os.chdir(cwd)
    assert exp["spec"]["algorithm"]["algorithmName"] == "grid"
    assert webhook_problems(exp) == []
    lr = next(p for p in exp["spec"]["parameters"] if p["name"] == "lr")
    assert float(lr["feasibleSpace"]["step"]) > 0


def test_in_process_is_the_default_and_says_so(tmp_path):
    text = (ROOT / "specs" / "churn.yaml").read_text(encoding="utf-8")
    plain = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("    tuner: katib"))
    cwd = os.getcwd()
    try:
        result = compile_kubeflow(plain, tmp_path)
    finally:
        os.chdir(cwd)
    assert "tuning/train.experiment.yaml" not in result.bundles["kubeflow"]
    assert any("Optuna study" in d.message and d.code == "W702" for d in result.diagnostics)
