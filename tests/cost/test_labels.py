"""The spec's name and labels reach every resource on every target, read back from compiled outputs;
where a platform restricts a label, compile says so with W702 at the spec's `labels` line."""

import json
import os

import pytest
import yaml
from mlopsc import api
from mlopsc.targets import tags

from tests.example_specs import ROOT

SPECS = os.path.join(ROOT, "specs")
CHURN_LABELS = {"team": "growth", "cost_center": "cc-1234"}
# CloudFormation types that take no Tags at all (they cost nothing; what they start or scale is tagged)
AWS_UNTAGGABLE = {"AWS::Scheduler::Schedule", "AWS::ApplicationAutoScaling::ScalableTarget",
                  "AWS::ApplicationAutoScaling::ScalingPolicy"}


@pytest.fixture(scope="module")
def churn():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = api.compile_spec("specs/churn.yaml", ["kubeflow", "local", "sagemaker", "vertex"])
    finally:
        os.chdir(cwd)
    assert result.ok, result.diagnostics
    return result.bundles


def _support_with_labels(tmp_path, labels: str):
    with open(os.path.join(SPECS, "support-assistant.yaml"), encoding="utf-8") as fh:
        text = fh.read()
    text = text.replace("owner: support-ml@acme.example\n", f"owner: support-ml@acme.example\nlabels: {labels}\n")
    path = tmp_path / "support-assistant.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _has(found: dict, project: str, labels: dict, project_key: str) -> bool:
    return found.get(project_key) == project and all(found.get(k) == v for k, v in labels.items())


def _k8s_docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def test_kubeflow_pods_and_serving_carry_the_labels(churn):
    files = churn["kubeflow"]
    for name in ("train", "deploy", "monitor"):
        spec, platform = _k8s_docs(files[f"pipelines/{name}.yaml"])
        executors = spec["deploymentSpec"]["executors"]
        configs = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        assert set(configs) == set(executors)  # every step's pod
        for cfg in configs.values():
            assert _has(cfg["podMetadata"]["labels"], "churn-classifier", CHURN_LABELS, "mlopsc.dev/project")
    for path in ("serving/staging.inferenceservice.yaml", "serving/production.inferenceservice.yaml"):
        [isvc] = _k8s_docs(files[path])
        assert _has(isvc["metadata"]["labels"], "churn-classifier", CHURN_LABELS, "mlopsc.dev/project")


def test_sagemaker_jobs_model_packages_and_stacks_carry_the_tags(churn):
    files = churn["sagemaker"]
    expected = [{"Key": "mlopsc:project", "Value": "churn-classifier"},
                {"Key": "cost_center", "Value": "cc-1234"}, {"Key": "team", "Value": "growth"}]

    def steps(items):
        for step in items:
            yield step
            args = step.get("Arguments") if isinstance(step.get("Arguments"), dict) else {}
            yield from steps(args.get("IfSteps", []) + args.get("ElseSteps", []))

    seen = set()
    for name in ("train", "deploy", "monitor"):
        for step in steps(json.loads(files[f"pipelines/{name}.json"])["Steps"]):
            if step["Type"] in ("Condition", "Fail"):
                continue  # not resources: control flow inside the execution
            seen.add(step["Type"])
            assert step["Arguments"]["Tags"][:3] == expected, step["Name"]
    assert seen == {"Processing", "Tuning", "RegisterModel"}
    for path in [p for p in files if p.startswith("cloudformation/")]:
        for name, resource in json.loads(files[path])["Resources"].items():
            if resource["Type"] in AWS_UNTAGGABLE:
                continue
            found = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
            assert _has(found, "churn-classifier", CHURN_LABELS, "mlopsc:project"), f"{path} {name}"
    deploy = json.loads(files["cloudformation/deploy-production.json"])["Resources"]
    # a resource's own tags stay beside the spec's
    assert {"Key": "mlopsc:environment", "Value": "production"} in deploy["Endpoint"]["Properties"]["Tags"]


def test_sagemaker_submit_tags_the_pipelines(churn):
    from mlopsc.targets.sagemaker.submit import requests

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        bodies = requests(api.load_project("specs/churn.yaml"), churn["sagemaker"])
    finally:
        os.chdir(cwd)
    assert all({"Key": "team", "Value": "growth"} in b["Tags"] for b in bodies) and len(bodies) == 3


def test_vertex_jobs_schedules_models_and_endpoints_carry_the_labels(churn):
    files = churn["vertex"]
    for name in ("train", "deploy", "monitor"):
        config = json.loads(files[f"jobs/{name}.runtime-config.json"])
        assert _has(config["labels"], "churn-classifier", CHURN_LABELS, "mlopsc-project")
    for name in ("train", "monitor"):
        schedule = json.loads(files[f"schedules/{name}.schedule.json"])
        job = schedule["createPipelineJobRequest"]["pipelineJob"]
        assert _has(job["labels"], "churn-classifier", CHURN_LABELS, "mlopsc-project")
    deploy = files["pipelines/deploy.yaml"]
    # the rollout steps upload the Model and create the endpoints with the labels (runtime/platforms/vertex_rollout.py)
    args = [a for line in deploy.splitlines() if (a := line.strip().removeprefix("- ")).startswith(
        ("model_labels=", "endpoint_labels="))]
    assert sorted(a.split("=", 1)[0] for a in args) == ["endpoint_labels"] * 2 + ["model_labels"] * 2
    for arg in args:
        assert _has(json.loads(arg.split("=", 1)[1]), "churn-classifier", CHURN_LABELS, "mlopsc-project"), arg


def test_local_containers_and_runs_carry_the_labels(churn):
    files = churn["local"]
    compose = yaml.safe_load(files["docker-compose.yaml"])
    for name, service in compose["services"].items():
        assert _has(service["labels"], "churn-classifier", CHURN_LABELS, "dev.mlopsc.project"), name
    assert json.loads(files["plan.json"])["labels"] == CHURN_LABELS


def test_gateway_and_shadow_resources_carry_the_labels(tmp_path):
    spec = _support_with_labels(tmp_path, "{team: support}")
    result = api.compile_spec(spec, ["kubeflow", "vertex"])
    assert result.ok, result.diagnostics
    for doc in _k8s_docs(result.bundles["kubeflow"]["gateway/litellm.yaml"]):
        assert doc["metadata"]["labels"]["team"] == "support", doc["kind"]
        if doc["kind"] == "Deployment":
            assert doc["spec"]["template"]["metadata"]["labels"]["team"] == "support"
            assert "team" not in doc["spec"]["selector"]["matchLabels"]  # selectors are immutable: not there
    [mirror] = _k8s_docs(result.bundles["kubeflow"]["serving/production.virtualservice.yaml"])
    assert mirror["metadata"]["labels"]["team"] == "support"
    [run] = _k8s_docs(result.bundles["vertex"]["gateway/cloudrun-service.yaml"])
    assert run["metadata"]["labels"]["team"] == "support"


def test_restricted_labels_are_a_w702_per_target(tmp_path):
    spec = _support_with_labels(tmp_path, '{team: support, owner: "Support Team", note: "a/b"}')
    result = api.compile_spec(spec, ["kubeflow", "sagemaker", "vertex", "local"])
    assert result.ok, result.diagnostics
    notes = sorted((d.message.split("`")[1], d.message.split("`")[3]) for d in result.diagnostics
                   if d.code == "W702" and ": label `" in d.message)
    # Kubernetes: no spaces or '/' in values; GCP: rewritten; AWS takes both; compose takes anything
    assert notes == [("kubeflow", "note: a/b"), ("kubeflow", "owner: Support Team"),
                     ("vertex", "note: a/b"), ("vertex", "owner: Support Team")]
    line = next(d for d in result.diagnostics if "owner: Support Team" in d.message)
    assert (line.line, line.col) == (8, 9)  # the spec's `labels` value
    [isvc] = _k8s_docs(result.bundles["kubeflow"]["serving/staging.inferenceservice.yaml"])
    assert "owner" not in isvc["metadata"]["labels"] and isvc["metadata"]["labels"]["team"] == "support"
    config = json.loads(result.bundles["vertex"]["jobs/train.runtime-config.json"])
    assert config["labels"]["owner"] == "support-team"
    train = json.loads(result.bundles["sagemaker"]["pipelines/train.json"])
    assert {"Key": "owner", "Value": "Support Team"} in train["Steps"][0]["Arguments"]["Tags"]


@pytest.mark.parametrize("key, value, ok", [("team", "growth", True), ("team", "", True), ("team", "a b", False),
                                            ("team", "x" * 64, False), ("team", "-x", False)])
def test_kubernetes_label_rule(key, value, ok):
    assert bool(tags._K8S.match(value)) is ok


def test_sagemaker_names_the_resources_that_take_no_tags(churn):
    from mlopsc.targets.sagemaker.unsupported import unsupported

    from tests.example_specs import load_example

    [found] = [d for d in unsupported(load_example("churn")) if "take no tags" in d.message]
    assert (found.line, found.col) == (8, 9) and found.code == "W702"
    present = {r["Type"] for path, text in churn["sagemaker"].items() if path.startswith("cloudformation/")
               for r in json.loads(text)["Resources"].values()}
    assert present & AWS_UNTAGGABLE == AWS_UNTAGGABLE  # the note is about resources really compiled


def test_kubeflow_names_the_recurring_runs_that_take_no_labels(churn):
    from mlopsc.targets.kubeflow.unsupported import unsupported

    from tests.example_specs import load_example

    [found] = [d for d in unsupported(load_example("churn")) if "recurring runs" in d.message]
    assert (found.line, found.col) == (8, 9) and found.code == "W702"
    schedules = [json.loads(text) for path, text in churn["kubeflow"].items() if path.startswith("schedules/")]
    assert schedules and all("labels" not in s for s in schedules)  # the note is about files really compiled
