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


def test_shadow_rollout_uses_a_shadow_variant():
    from sm_helpers import compile_spec

    _, files, _ = compile_spec("support-assistant.yaml")
    prod = templates(files)["cloudformation/deploy-production.json"]["Resources"]
    config = prod["EndpointConfig"]["Properties"]
    assert config["ShadowProductionVariants"][0]["InitialVariantWeight"] == 0.1
    assert config["ProductionVariants"][0]["ModelName"] == {"Fn::GetAtt": ["ChampionModel", "ModelName"]}


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
