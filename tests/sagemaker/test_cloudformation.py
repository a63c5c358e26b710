"""The deploy, monitor and schedule templates pass cfn-lint (errors) and carry the guardrails."""

import json
import os

from sm_helpers import templates


def lint(text):
    from cfnlint.api import ManualArgs
    from cfnlint.api import lint as cfn_lint

    return cfn_lint(text, config=ManualArgs(regions=["us-east-1"]))


def test_templates_pass_cfn_lint(compiled):
    _, files, _ = compiled
    found = {p: [f"{m.rule.id}: {m.message}" for m in lint(t) if m.rule.id.startswith("E")]
             for p, t in sorted(files.items()) if p.startswith("cloudformation/")}
    assert found and not any(found.values()), found


def test_cfn_lint_really_runs():
    bad = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"E": {"Type": "AWS::SageMaker::Endpoint",
           "Properties": {"EndpointConfigName": "x", "DeploymentConfig": {"BlueGreenUpdatePolicy": {
               "TrafficRoutingConfiguration": {"Type": "CANARYX", "WaitIntervalInSeconds": 99999}}}}}}}
    assert {m.rule.id for m in lint(json.dumps(bad))} >= {"E3030", "E3034"}


def test_canary_rollout_with_alarm_rollback():
    from sm_helpers import compile_spec

    _, files, _ = compile_spec("churn.yaml")
    prod = templates(files)["cloudformation/deploy-production.json"]["Resources"]
    config = prod["Endpoint"]["Properties"]["DeploymentConfig"]
    traffic = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert traffic == {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 5},
                       "WaitIntervalInSeconds": 1800}
    assert {a["AlarmName"]["Ref"] for a in config["AutoRollbackConfiguration"]["Alarms"]} == {
        "ErrorRateAlarm", "LatencyAlarm"}
    assert prod["ErrorRateAlarm"]["Properties"]["MetricName"] == "Invocation5XXErrors"
    assert prod["ErrorRateAlarm"]["Properties"]["Threshold"] == 0.01
    assert prod["LatencyAlarm"]["Properties"]["MetricName"] == "ModelLatency"
    assert prod["LatencyAlarm"]["Properties"]["Threshold"] == 200000  # microseconds
    assert prod["ScalableTarget"]["Properties"]["MaxCapacity"] == 10
    assert prod["EndpointConfig"]["Properties"]["DataCaptureConfig"]["EnableCapture"] is True


def test_timed_shadow_rollout_is_an_inference_experiment():
    """`shadow, sample: 0.1, duration: 24h`: the champion keeps the endpoint config; the candidate
    shadows it through an InferenceExperiment that ends at the deploy-time `ShadowEndTime`."""
    from sm_helpers import compile_spec

    _, files, _ = compile_spec("support-assistant.yaml")
    template = templates(files)["cloudformation/deploy-production.json"]
    prod = template["Resources"]
    config = prod["EndpointConfig"]["Properties"]
    assert "ShadowProductionVariants" not in config
    assert config["ProductionVariants"][0]["ModelName"] == {"Fn::GetAtt": ["ChampionModel", "ModelName"]}
    experiment = prod["ShadowTest"]
    assert experiment["Type"] == "AWS::SageMaker::InferenceExperiment"
    props = experiment["Properties"]
    assert props["Type"] == "ShadowMode" and props["DesiredState"] == "Running"
    assert props["ShadowModeConfig"] == {"SourceModelVariantName": "AllTraffic", "ShadowModelVariants": [
        {"ShadowModelVariantName": "Shadow", "SamplingPercentage": 10}]}
    assert [v["ModelName"]["Fn::GetAtt"][0] for v in props["ModelVariants"]] == ["ChampionModel", "Model"]
    assert props["Schedule"] == {"EndTime": {"Ref": "ShadowEndTime"}}
    assert "86400 s" in template["Parameters"]["ShadowEndTime"]["Description"]
    assert not [m for m in lint(json.dumps(template)) if m.rule.id.startswith("E")]


def test_untimed_shadow_keeps_a_shadow_variant_and_a_long_one_is_an_error(tmp_path):
    from mlopsc import api, targets

    root = os.path.join(os.path.dirname(__file__), "..", "..")
    text = open(os.path.join(root, "specs", "support-assistant.yaml"), encoding="utf-8").read()
    spec = tmp_path / "s.yaml"
    spec.write_text(text.replace("{type: shadow, sample: 0.1, duration: 24h}", "{type: shadow, sample: 0.1}"))
    files, _ = targets.get("sagemaker").compile(api.load_project(str(spec)))
    prod = json.loads(next(f.content for f in files if f.path == "cloudformation/deploy-production.json"))
    assert prod["Resources"]["EndpointConfig"]["Properties"]["ShadowProductionVariants"][0]["InitialVariantWeight"] == 0.1
    assert "ShadowTest" not in prod["Resources"] and "ShadowEndTime" not in prod["Parameters"]

    spec.write_text(text.replace("duration: 24h}", "duration: 31d}"))
    _, diags = targets.get("sagemaker").compile(api.load_project(str(spec)))
    errors = [d for d in diags if d.severity == "error"]
    assert [(d.code, d.line) for d in errors] == [("E701", text[:text.index("duration: 24h")].count("\n") + 1)]
    assert "longer than 30 days" in errors[0].message


def test_scale_to_zero_without_gpu_is_serverless(tmp_path):
    from mlopsc import api, targets

    with open("specs/churn.yaml" if os.path.exists("specs/churn.yaml") else
              os.path.join(os.path.dirname(__file__), "..", "..", "specs", "churn.yaml"), encoding="utf-8") as fh:
        text = fh.read()
    text = text.replace("autoscaling: {min_replicas: 1, max_replicas: 10, target_concurrency: 50}",
                        "autoscaling: {min_replicas: 0, max_replicas: 10, target_concurrency: 5}")
    spec = tmp_path / "zero.yaml"
    spec.write_text(text, encoding="utf-8")
    files, diags = targets.get("sagemaker").compile(api.load_project(str(spec)))
    assert not [d for d in diags if d.severity == "error"]
    staging = json.loads(next(f.content for f in files if f.path == "cloudformation/deploy-staging.json"))
    variant = staging["Resources"]["EndpointConfig"]["Properties"]["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 4096, "MaxConcurrency": 50}
    assert "InstanceType" not in variant and "ScalableTarget" not in staging["Resources"]
