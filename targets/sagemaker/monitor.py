"""CloudFormation for what runs on a schedule outside the pipelines.

- `monitor_template`: Model Monitor for drift (a data-quality job definition that runs the project
  image with the `mlopsc step drift` contract on the endpoint's captured data, so PSI/KS mean the
  same as on every target, and its monitoring schedule), CloudWatch alarms on the drift metrics the
  job publishes (`feature_baseline_drift_<feature>`, namespace `aws/sagemaker/Endpoints/data-metrics`)
  and on the infrastructure SLOs, and an SNS topic for the alerts with e-mail subscriptions.
- `schedules_template`: EventBridge Scheduler schedules that start the train and monitor pipelines.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.contract import StepCall
from mlopsc.targets.base import spec_ref

from . import cron, serving
from .cloudformation import ref
from .expressions import logical_id, pipeline_name, resource_name
from .settings import Settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

DATA_METRICS = "aws/sagemaker/Endpoints/data-metrics"
CAPTURED = "/opt/ml/processing/input/endpoint"
RESULTS = "/opt/ml/processing/resultdata"


def _drift_command(project: ir.Project, drift: ir.Drift) -> list[str]:
    """The monitor pipeline's drift step, as Model Monitor's container entrypoint."""
    step = project.pipeline("monitor").step("detect-drift")
    return StepCall(action=step.action, spec=spec_ref(project), target="sagemaker", pipeline="monitor",
                    step=step.name, args=step.args, inputs=(("captured", CAPTURED),),
                    outputs=(("report", f"{RESULTS}/report.json"),)).argv()


def _alarm(description: str, namespace: str, metric: str, dimensions: list[dict[str, Any]], threshold: float,
           *, p99: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {
        "AlarmDescription": description, "Namespace": namespace, "MetricName": metric, "Dimensions": dimensions,
        "Period": 3600 if namespace == DATA_METRICS else 300, "EvaluationPeriods": 1,
        "Threshold": threshold, "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [ref("AlertTopic")],
    }
    props["ExtendedStatistic" if p99 else "Statistic"] = "p99" if p99 else ("Maximum" if namespace == DATA_METRICS
                                                                             else "Average")
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


def monitor_template(project: ir.Project, s: Settings) -> dict[str, Any] | None:
    m = project.monitoring
    env = serving.monitored_environment(project)
    if m is None or env is None or (m.drift is None and m.max_error_rate is None and m.max_p99_latency_ms is None):
        return None
    params: dict[str, Any] = {
        "EndpointName": {"Type": "String", "Default": serving.endpoint_name(project, env)},
        "ImageUri": {"Type": "String", "Description": "image that runs the monitoring job (tag or digest)"},
        "RoleArn": {"Type": "String", "Default": s.role},
    }
    resources: dict[str, Any] = {"AlertTopic": {"Type": "AWS::SNS::Topic", "Properties": {
        "DisplayName": f"{project.name} monitoring",
        "Subscription": [{"Protocol": "email", "Endpoint": a.removeprefix("email:")}
                         for a in m.alerts if a.startswith("email:")],
    }}}
    resources.update(_slo_alarms(project, m))
    if m.drift is not None:
        resources.update(_drift_resources(project, m, m.drift, s))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"mlopsc: {project.name} monitoring of `{env.name}`; generated from {project.spec_path}, "
                       "do not edit",
        "Parameters": params,
        "Resources": resources,
        "Outputs": {"AlertTopicArn": {"Value": ref("AlertTopic")}},
    }


def _slo_alarms(project: ir.Project, m: ir.Monitoring) -> dict[str, Any]:
    """CloudWatch alarms on the endpoint's infrastructure SLOs (error rate, p99 latency)."""
    endpoint_dims = [{"Name": "EndpointName", "Value": ref("EndpointName")},
                     {"Name": "VariantName", "Value": "AllTraffic"}]
    found: dict[str, Any] = {}
    if m.max_error_rate is not None:
        found["ErrorRateAlarm"] = _alarm(f"{project.name}: 5xx error rate above {m.max_error_rate:g}",
                                         "AWS/SageMaker", "Invocation5XXErrors", endpoint_dims, m.max_error_rate)
    if m.max_p99_latency_ms is not None:
        found["LatencyAlarm"] = _alarm(f"{project.name}: p99 model latency above {m.max_p99_latency_ms:g} ms",
                                       "AWS/SageMaker", "ModelLatency", endpoint_dims,
                                       m.max_p99_latency_ms * 1000, p99=True)
    return found


def _drift_resources(project: ir.Project, m: ir.Monitoring, d: ir.Drift, s: Settings) -> dict[str, Any]:
    """The data-quality job definition, its monitoring schedule and one alarm per drifted feature."""
    schedule = resource_name(project.name, "drift")
    found: dict[str, Any] = {"DataQualityJobDefinition": {
        "Type": "AWS::SageMaker::DataQualityJobDefinition", "Properties": _data_quality_job(project, d, s)}}
    found["DriftSchedule"] = {"Type": "AWS::SageMaker::MonitoringSchedule", "Properties": {
        "MonitoringScheduleName": schedule,
        "MonitoringScheduleConfig": {
            "MonitoringJobDefinitionName": {"Fn::GetAtt": ["DataQualityJobDefinition", "JobDefinitionName"]},
            "MonitoringType": "DataQuality",
            "ScheduleConfig": {"ScheduleExpression": cron.monitoring_cron(m.schedule)},
        },
    }}
    for feature in d.features:
        found[logical_id("drift", feature, "alarm")] = _alarm(
            f"{project.name}: {d.method} drift of {feature} above {d.threshold:g}", DATA_METRICS,
            f"feature_baseline_drift_{feature}",
            [{"Name": "Endpoint", "Value": ref("EndpointName")},
             {"Name": "MonitoringSchedule", "Value": schedule}], d.threshold)
    if d.features:
        found[logical_id("drift", d.features[0], "alarm")].setdefault("DependsOn", "DriftSchedule")
    return found


def _data_quality_job(project: ir.Project, d: ir.Drift, s: Settings) -> dict[str, Any]:
    return {
        "JobDefinitionName": resource_name(project.name, "data-quality"),
        "DataQualityAppSpecification": {
            "ImageUri": ref("ImageUri"),
            "ContainerEntrypoint": _drift_command(project, d),
            "Environment": {"publish_cloudwatch_metrics": "Enabled"},
        },
        "DataQualityJobInput": {"EndpointInput": {"EndpointName": ref("EndpointName"), "LocalPath": CAPTURED,
                                                  "S3InputMode": "File",
                                                  "S3DataDistributionType": "FullyReplicated"}},
        "DataQualityJobOutputConfig": {"MonitoringOutputs": [{"S3Output": {
            "S3Uri": s.s3(project.name, "monitoring", "drift"), "LocalPath": RESULTS,
            "S3UploadMode": "EndOfJob"}}]},
        "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                           "VolumeSizeInGB": 30}},
        "RoleArn": ref("RoleArn"),
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def schedules_template(project: ir.Project, s: Settings) -> dict[str, Any] | None:
    resources: dict[str, Any] = {}
    for pipeline in project.pipelines:
        if not pipeline.schedule:
            continue
        name = pipeline_name(project.name, pipeline.name)
        resources[logical_id(pipeline.name, "schedule")] = {"Type": "AWS::Scheduler::Schedule", "Properties": {
            "Description": f"start {name} on `{pipeline.schedule}` (UTC)",
            "ScheduleExpression": cron.aws_cron(pipeline.schedule),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": {"Fn::Sub": f"arn:${{AWS::Partition}}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:"
                                   f"pipeline/{name}"},
                "RoleArn": ref("SchedulerRoleArn"),
                "SageMakerPipelineParameters": {"PipelineParameterList": [
                    {"Name": "image", "Value": ref("ImageUri")}]},
            },
        }}
    if not resources:
        return None
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"mlopsc: schedules that start the {project.name} pipelines; generated from "
                       f"{project.spec_path}, do not edit",
        "Parameters": {
            "SchedulerRoleArn": {"Type": "String",
                                 "Description": "role EventBridge Scheduler assumes (sagemaker:StartPipelineExecution)"},
            "ImageUri": {"Type": "String", "Description": "image the scheduled runs use (tag or digest)"},
        },
        "Resources": resources,
    }
