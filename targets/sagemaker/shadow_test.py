"""A timed shadow test (`strategy: {type: shadow, duration: 24h}`) as SageMaker's own mechanism:
`AWS::SageMaker::InferenceExperiment` of type `ShadowMode`.

The endpoint config keeps the champion as its only production variant; the experiment deploys the
candidate as a shadow variant on the same endpoint, replicates `sample` of the requests to it, and
ends at `Schedule.EndTime`, when SageMaker removes the shadow variant (promotion stays a decision:
the next deploy). A template is a pure function of the spec, so the end time is a stack parameter
(`ShadowEndTime`) that the deploy step sets to the deploy time plus `duration`. Without a
`duration` the shadow variant stays in the endpoint config (`ShadowProductionVariants`) until
the next deploy. SageMaker runs an experiment for at most 30 days (checked at compile time).
"""

from __future__ import annotations

from mlopsc import ir

from . import serving
from .settings import Settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

END_TIME_PARAM = "ShadowEndTime"
MAX_DURATION_S = 30 * 24 * 3600


def is_timed(strategy: ir.Strategy) -> bool:
    return strategy.type == "shadow" and strategy.duration_seconds is not None


def end_time_parameter(strategy: ir.Strategy) -> dict[str, Any]:
    return {"Type": "String",
            "Description": f"when the shadow test ends (ISO 8601, UTC): set by the deploy step to the deploy "
                           f"time + {strategy.duration_seconds} s (strategy.duration)",
            "AllowedPattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"}


def _model_variant(model: str, variant: str, plan: serving.Serving, s: Settings) -> dict[str, Any]:
    return {"ModelName": {"Fn::GetAtt": [model, "ModelName"]}, "VariantName": variant,
            "InfrastructureConfig": {"InfrastructureType": "RealTimeInference", "RealTimeInferenceConfig": {
                "InstanceType": serving.instance_type(plan, s),
                "InstanceCount": max(1, plan.autoscaling.min_replicas)}}}


def experiment(project: ir.Project, env: ir.Environment, plan: serving.Serving, s: Settings, *,
               champion_variant: str, shadow_variant: str) -> dict[str, Any]:
    """The InferenceExperiment resource: champion (`ChampionModel`) takes every request, the
    candidate (`Model`) gets a copy of `sample` of them until `ShadowEndTime`."""
    st = env.strategy
    percent = max(1, min(100, round((st.sample if st.sample is not None else 1.0) * 100)))
    return {"Type": "AWS::SageMaker::InferenceExperiment", "Properties": {
        # one experiment per endpoint, updated in place by later deploys (Name is create-only)
        "Name": {"Fn::Join": ["-", [{"Ref": "EndpointName"}, "shadow"]]},
        "Type": "ShadowMode",
        "Description": f"{project.name} {env.name}: the candidate shadows the champion on {percent}% of "
                       f"requests for {st.duration_seconds} s (mlopsc)",
        "RoleArn": {"Ref": "ExecutionRoleArn"},
        "EndpointName": {"Fn::GetAtt": ["Endpoint", "EndpointName"]},
        "ModelVariants": [_model_variant("ChampionModel", champion_variant, plan, s),
                          _model_variant("Model", shadow_variant, plan, s)],
        "ShadowModeConfig": {"SourceModelVariantName": champion_variant, "ShadowModelVariants": [
            {"ShadowModelVariantName": shadow_variant, "SamplingPercentage": percent}]},
        "Schedule": {"EndTime": {"Ref": END_TIME_PARAM}},
        "DesiredState": "Running",
        "DataStorageConfig": {"Destination": s.s3(project.name, "shadow-test", env.name)},
        "Tags": [{"Key": "mlopsc:project", "Value": project.name}, {"Key": "mlopsc:environment", "Value": env.name}],
    }}
