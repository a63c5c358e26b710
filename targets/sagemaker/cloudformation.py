"""One CloudFormation template per deployment environment: the guarded SageMaker endpoint.

Model(s) -> EndpointConfig (instance or serverless variants, shadow variant, data capture) ->
[InferenceExperiment for a timed shadow test, see `shadow_test`] ->
Endpoint with `DeploymentConfig` (blue/green ALL_AT_ONCE, CANARY or LINEAR traffic routing from the
strategy; `AutoRollbackConfiguration` on CloudWatch alarms built from the rollback rules over
`Invocation5XXErrors` and `ModelLatency`) -> Application Auto Scaling for instance variants.
The image and model data are stack parameters, so one template serves every model version.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.targets.base import spec_ref

from . import serving, shadow_test
from .expressions import resource_name
from .settings import Settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

VARIANT = "AllTraffic"
CHALLENGER = "Challenger"
SHADOW = "Shadow"


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def _model(project: ir.Project, plan: serving.Serving, data_param: str) -> dict[str, Any]:
    return {"Type": "AWS::SageMaker::Model", "Properties": {
        "ExecutionRoleArn": ref("ExecutionRoleArn"),
        "PrimaryContainer": {"Image": ref("ImageUri"), "ModelDataUrl": ref(data_param),
                             "Environment": {"MLOPSC_SPEC": spec_ref(project), "MLOPSC_SERVING_RUNTIME": plan.runtime}},
        "Tags": [{"Key": "mlopsc:project", "Value": project.name}],
    }}


def _variant(name: str, model: str, plan: serving.Serving, s: Settings, weight: float) -> dict[str, Any]:
    variant: dict[str, Any] = {"VariantName": name, "ModelName": {"Fn::GetAtt": [model, "ModelName"]},
                               "InitialVariantWeight": weight}
    if serving.is_serverless(plan):
        variant["ServerlessConfig"] = {"MemorySizeInMB": serving.serverless_memory_mb(plan),
                                       "MaxConcurrency": serving.serverless_concurrency(plan)}
    else:
        variant["InstanceType"] = serving.instance_type(plan, s)
        variant["InitialInstanceCount"] = max(1, plan.autoscaling.min_replicas)
    return variant


def _alarm(description: str, metric: str, variant: str, threshold: float, *, p99: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {
        "AlarmDescription": description,
        "Namespace": "AWS/SageMaker",
        "MetricName": metric,
        "Dimensions": [{"Name": "EndpointName", "Value": ref("EndpointName")},
                       {"Name": "VariantName", "Value": variant}],
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    if p99:
        props["ExtendedStatistic"] = "p99"
    else:
        props["Statistic"] = "Average"
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


def rollback_alarms(rollback: ir.Rollback | None, variant: str, what: str) -> dict[str, dict[str, Any]]:
    """Alarms for the rollback rules. `Invocation5XXErrors` is 1 per failed request and 0 otherwise,
    so its Average is the error rate; `ModelLatency` is in microseconds."""
    if rollback is None:
        return {}
    alarms = {}
    if rollback.max_error_rate is not None:
        alarms["ErrorRateAlarm"] = _alarm(f"{what}: 5xx error rate above {rollback.max_error_rate:g}",
                                          "Invocation5XXErrors", variant, rollback.max_error_rate)
    if rollback.max_p99_latency_ms is not None:
        alarms["LatencyAlarm"] = _alarm(f"{what}: p99 model latency above {rollback.max_p99_latency_ms:g} ms",
                                        "ModelLatency", variant, rollback.max_p99_latency_ms * 1000, p99=True)
    return alarms


def _deployment_config(env: ir.Environment, alarms: list[str]) -> dict[str, Any] | None:
    route = serving.routing(env.strategy)
    if route.type == "ALL_AT_ONCE" and env.strategy.type == "direct" and not alarms:
        return None
    traffic: dict[str, Any] = {"Type": route.type, "WaitIntervalInSeconds": route.wait_seconds}
    if route.type == "CANARY":
        traffic["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": route.step_percent}
    elif route.type == "LINEAR":
        traffic["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": route.step_percent}
    config: dict[str, Any] = {"BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": traffic,
        "TerminationWaitInSeconds": route.termination_wait,
        "MaximumExecutionTimeoutInSeconds": min(serving.MAX_EXECUTION, route.timeout_seconds),
    }}
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": ref(a)} for a in alarms]}
    return config


def _autoscaling(plan: serving.Serving, variant: str) -> dict[str, dict[str, Any]]:
    a = plan.autoscaling
    low = max(1, a.min_replicas)
    if serving.is_serverless(plan) or a.max_replicas <= low:
        return {}
    resource_id = {"Fn::Join": ["/", ["endpoint", {"Fn::GetAtt": ["Endpoint", "EndpointName"]}, "variant", variant]]}
    out: dict[str, dict[str, Any]] = {"ScalableTarget": {
        "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
        "Properties": {"ServiceNamespace": "sagemaker", "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                       "ResourceId": resource_id, "MinCapacity": low, "MaxCapacity": a.max_replicas},
    }}
    if a.target_concurrency:
        out["ScalingPolicy"] = {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": {
            "PolicyName": "concurrency-per-instance",
            "PolicyType": "TargetTrackingScaling",
            "ScalingTargetId": ref("ScalableTarget"),
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": float(a.target_concurrency),
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantConcurrentRequestsPerModelHighResolution"},
                "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
            },
        }}
    return out


def data_capture(project: ir.Project, env: ir.Environment, s: Settings) -> dict[str, Any] | None:
    """Capture requests and responses where Model Monitor watches (drift needs the inputs)."""
    m = project.monitoring
    if m is None or m.drift is None or serving.monitored_environment(project) != env:
        return None
    percent = max(1, round(m.capture_sample * 100))  # DataCapture takes whole percent, 0-100
    return {"EnableCapture": True, "InitialSamplingPercentage": percent,
            "DestinationS3Uri": s.s3(project.name, "data-capture", env.name),
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]}}


def _challenger(project: ir.Project, env: ir.Environment, plan: serving.Serving, s: Settings,
                params: dict[str, Any], resources: dict[str, Any], config: dict[str, Any]) -> str:
    """Shadow and A/B: the model now serving keeps the production variant; the candidate gets a
    share or a copy. Returns the variant the rollback alarms watch."""
    st = env.strategy
    production = config["ProductionVariants"]
    params["ChampionModelDataUrl"] = {"Type": "String",
                                      "Description": "S3 URI of the model now serving (the champion)"}
    resources["ChampionModel"] = _model(project, plan, "ChampionModelDataUrl")
    production[0]["ModelName"] = {"Fn::GetAtt": ["ChampionModel", "ModelName"]}
    if shadow_test.is_timed(st):  # the experiment adds the shadow variant for its duration
        params[shadow_test.END_TIME_PARAM] = shadow_test.end_time_parameter(st)
        resources["ShadowTest"] = shadow_test.experiment(project, env, plan, s, champion_variant=VARIANT,
                                                         shadow_variant=SHADOW)
        return SHADOW
    if st.type == "shadow":
        config["ShadowProductionVariants"] = [_variant(SHADOW, "Model", plan, s, st.sample or 1.0)]
        return SHADOW
    split = st.split if st.split is not None else 0.5
    production[0]["InitialVariantWeight"] = round(1.0 - split, 6)
    production.append(_variant(CHALLENGER, "Model", plan, s, split))
    return CHALLENGER


def deploy_template(project: ir.Project, env: ir.Environment, s: Settings) -> dict[str, Any]:
    plan = serving.serving(project)
    assert plan is not None
    st = env.strategy
    params: dict[str, Any] = {
        "ImageUri": {"Type": "String", "Description": "serving image (tag or digest)"},
        "ModelDataUrl": {"Type": "String", "Description": "S3 URI of the model.tar.gz to deploy (the candidate)"},
        "EndpointName": {"Type": "String", "Default": serving.endpoint_name(project, env),
                         "AllowedPattern": "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"},
        "ExecutionRoleArn": {"Type": "String", "Default": s.role},
    }
    resources: dict[str, Any] = {"Model": _model(project, plan, "ModelDataUrl")}
    production = [_variant(VARIANT, "Model", plan, s, 1.0)]
    config: dict[str, Any] = {"ProductionVariants": production,
                              "Tags": [{"Key": "mlopsc:environment", "Value": env.name}]}
    watched = VARIANT
    if st.type in ("shadow", "ab_test"):
        watched = _challenger(project, env, plan, s, params, resources, config)
    capture = data_capture(project, env, s)
    if capture:
        config["DataCaptureConfig"] = capture
    resources["EndpointConfig"] = {"Type": "AWS::SageMaker::EndpointConfig", "Properties": config}
    alarms = rollback_alarms(env.rollback, watched, f"{project.name} {env.name}")
    resources.update(alarms)
    endpoint: dict[str, Any] = {
        "EndpointName": ref("EndpointName"),
        "EndpointConfigName": {"Fn::GetAtt": ["EndpointConfig", "EndpointConfigName"]},
        "Tags": [{"Key": "mlopsc:project", "Value": project.name}, {"Key": "mlopsc:environment", "Value": env.name}],
    }
    deployment = _deployment_config(env, sorted(alarms))
    if deployment:
        endpoint["DeploymentConfig"] = deployment
    resources["Endpoint"] = {"Type": "AWS::SageMaker::Endpoint", "Properties": endpoint}
    if st.type not in ("shadow", "ab_test"):
        resources.update(_autoscaling(plan, VARIANT))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"mlopsc: {project.name} endpoint for `{env.name}` ({st.type} rollout); generated from "
                       f"{project.spec_path}, do not edit",
        "Parameters": params,
        "Resources": resources,
        "Outputs": {"EndpointName": {"Value": {"Fn::GetAtt": ["Endpoint", "EndpointName"]}},
                    "ModelName": {"Value": {"Fn::GetAtt": ["Model", "ModelName"]}}},
    }


__all__ = ["deploy_template", "resource_name", "rollback_alarms"]
