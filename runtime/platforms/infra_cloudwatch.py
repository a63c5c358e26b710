"""SageMaker endpoint metrics from CloudWatch for the monitor's infrastructure check.

`AWS/SageMaker` publishes per endpoint variant (dimensions `EndpointName`, `VariantName`):
`Invocations` and `Invocation5XXErrors` (counts) and `ModelLatency` (microseconds). The error rate
is the sum of 5XX errors over the sum of invocations in the window, over every variant; the p99
latency is CloudWatch's `p99` statistic per variant (the worst variant counts). The endpoint is
`<project>-<environment>` (`resource_names.sagemaker_resource`), or `MLOPSC_SAGEMAKER_ENDPOINT`.
"""

from __future__ import annotations

import datetime as dt
import os

from mlopsc.runtime.platforms.infra_checks import Reading
from mlopsc.runtime.steps import StepContext, StepFailed
from mlopsc.units import duration_seconds

NAMESPACE = "AWS/SageMaker"


def read_endpoint(ctx: StepContext, environment: str, window: str) -> tuple[str, list[Reading]]:
    from botocore.exceptions import BotoCoreError, ClientError
    from mlopsc.resource_names import sagemaker_resource
    from mlopsc.runtime.platforms.aws import session

    endpoint = os.environ.get("MLOPSC_SAGEMAKER_ENDPOINT") or sagemaker_resource(ctx.project.name, environment)
    source = f"CloudWatch {NAMESPACE} for endpoint {endpoint}"
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=1)
    start = end - dt.timedelta(seconds=duration_seconds(window))
    try:
        cw = session(ctx.project).client("cloudwatch")
        variants = _variants(cw, endpoint)
        if not variants:
            return source, []
        want_p99 = bool(ctx.args.get("max_p99_latency_ms"))
        readings = [_variant_reading(cw, endpoint, v, start, end, want_p99) for v in variants]
    except (BotoCoreError, ClientError) as e:
        raise StepFailed(f"{source} does not answer: {str(e).splitlines()[0][:300]}") from None
    return source, readings


def _variants(cw, endpoint: str) -> list[str]:
    found = set()
    pages = cw.get_paginator("list_metrics").paginate(
        Namespace=NAMESPACE, MetricName="Invocations", Dimensions=[{"Name": "EndpointName", "Value": endpoint}])
    for page in pages:
        for metric in page["Metrics"]:
            dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            if dims.get("EndpointName") == endpoint and "VariantName" in dims:
                found.add(dims["VariantName"])
    return sorted(found)


def _query(qid: str, endpoint: str, variant: str, metric: str, stat: str, period: int) -> dict:
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
    return {"Id": qid, "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dims},
                                      "Period": period, "Stat": stat}, "ReturnData": True}


def _variant_reading(cw, endpoint: str, variant: str, start, end, want_p99: bool) -> Reading:
    period = int((end - start).total_seconds())
    queries = [_query("invocations", endpoint, variant, "Invocations", "Sum", period),
               _query("errors", endpoint, variant, "Invocation5XXErrors", "Sum", period)]
    sums = _values(cw, queries, start, end)
    requests, errors = sum(sums.get("invocations", [])), sum(sums.get("errors", []))
    p99_ms = None
    if want_p99 and requests:
        latency = _values(cw, [_query("p99", endpoint, variant, "ModelLatency", "p99", period)], start, end)
        p99_ms = max(latency["p99"]) / 1000 if latency.get("p99") else None  # microseconds -> ms
    return Reading(f"{endpoint}/{variant}", errors / requests if requests else None, p99_ms, requests)


def _values(cw, queries: list[dict], start, end) -> dict[str, list[float]]:
    out = cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    return {r["Id"]: [float(v) for v in r.get("Values", [])] for r in out["MetricDataResults"]}
