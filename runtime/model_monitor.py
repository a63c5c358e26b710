"""The SageMaker Model Monitor side of the drift step: CloudWatch metrics where Model Monitor
publishes a custom container's metrics.

When the job's environment says `publish_cloudwatch_metrics: Enabled` (the compiled
DataQualityJobDefinition sets it), the drift step writes one line per feature to
`/opt/ml/output/metrics/cloudwatch/drift.jsonl`, in the PutMetricData shape Model Monitor reads:

    {"MetricName": "feature_baseline_drift_<feature>", "Timestamp": "...Z", "Value": <statistic>,
     "Dimensions": [{"Name": "Endpoint", "Value": <endpoint>},
                    {"Name": "MonitoringSchedule", "Value": <schedule>}], "Unit": "None"}

Model Monitor publishes them in `aws/sagemaker/Endpoints/data-metrics`, the namespace, names and
dimensions of the alarms `targets/sagemaker/monitor.py` compiles. The endpoint and schedule come
from the variables Model Monitor sets (`sagemaker_endpoint_name`,
`sagemaker_monitoring_schedule_name`), the time from `end_time` (the monitored period's end).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path

METRICS_DIR = "/opt/ml/output/metrics/cloudwatch"
METRIC_PREFIX = "feature_baseline_drift_"


def enabled() -> bool:
    return os.environ.get("publish_cloudwatch_metrics", "").lower() == "enabled"


def metrics_dir() -> Path:
    return Path(os.environ.get("MLOPSC_CLOUDWATCH_METRICS_DIR") or METRICS_DIR)


def drift_metrics(report: dict, endpoint: str, schedule: str, timestamp: str) -> list[dict]:
    """One metric per feature with a finite statistic."""
    dims = [{"Name": "Endpoint", "Value": endpoint}, {"Name": "MonitoringSchedule", "Value": schedule}]
    out = []
    for f in report.get("features", []):
        value = f.get("statistic")
        if isinstance(value, (int, float)) and math.isfinite(value):
            out.append({"MetricName": METRIC_PREFIX + f["feature"], "Timestamp": timestamp,
                        "Dimensions": dims, "Value": float(value), "Unit": "None"})
    return out


def _timestamp() -> str:
    end = os.environ.get("end_time", "").replace(" ", "")
    if end:
        return end
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def publish_drift_metrics(report: dict) -> tuple[str, int] | None:
    """Write the drift metrics when Model Monitor asks for them; (file, count), else None."""
    if not enabled():
        return None
    metrics = drift_metrics(report, os.environ.get("sagemaker_endpoint_name", ""),
                            os.environ.get("sagemaker_monitoring_schedule_name", ""), _timestamp())
    directory = metrics_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "drift.jsonl"
    path.write_text("".join(json.dumps(m, sort_keys=True) + "\n" for m in metrics), encoding="utf-8")
    return str(path), len(metrics)


__all__ = ["METRICS_DIR", "drift_metrics", "publish_drift_metrics"]
