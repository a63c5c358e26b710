"""Captured traffic in object storage, read by the monitor's drift step running in the built image:
each format (our servers' JSONL, KServe logger events, SageMaker DataCapture, Vertex logging rows
exported as JSON) placed in S3 (moto's server) or GCS (the emulator), two windows each (unshifted,
then shifted rows), with the verdicts and statistics of the same step run here on the same files
from a local directory. And SageMaker Model Monitor's job as compiled: the DataCapture files
mounted where the job definition says, the CloudWatch metric file checked against the compiled
alarms."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cloud_project import ROOT, datasets, write_project
from conftest import build_image
from servers import gcs_emulator, moto_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from capture_samples import FORMATS, write_format

pytestmark = pytest.mark.container

TAG = "mlopsc-monlocal-ci:monitor"
FEATURES = ["customer_id", "tenure_months", "monthly_spend", "orders_30d", "plan"]
T0 = dt.datetime(2026, 11, 30, 9, 0, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 11, 30, 11, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def image(docker_env, base_image, tmp_path_factory):
    """The example's image with its monitoring section (cloud_project drops it for the train runs)."""
    project = tmp_path_factory.mktemp("monitor-project")
    spec_path = write_project(project, "s3://acme-ml/churn", base_image)
    spec = yaml.safe_load(spec_path.read_text())
    spec["monitoring"] = yaml.safe_load((ROOT / "specs" / "churn.yaml").read_text())["monitoring"]
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    build_image(spec_path, TAG, "sagemaker", docker_env, project / "build" / "image")
    return spec_path


def windows():
    sys.path.insert(0, str(ROOT / "specs" / "churn_local"))
    import make_data

    out = []
    for df in (make_data.generate(1500, seed=2, id_offset=2_000_000),
               make_data.generate(1500, seed=3, id_offset=3_000_000, drift=0.5)):
        rows = json.loads(df[FEATURES].to_json(orient="records"))
        out.append((rows, [0.5] * len(rows)))
    return out


def step_argv(spec_path: Path, captures: str, out: str, inputs=()) -> list[str]:
    from mlopsc.api import load_project
    from mlopsc.contract import StepCall
    from mlopsc.targets.base import spec_ref

    project = load_project(str(spec_path))
    step = project.pipeline("monitor").step("detect-drift")
    args = tuple((k, v) for k, v in step.args if k != "captures") + (("captures", captures),)
    return StepCall(action="drift", spec=spec_ref(project), target="sagemaker", pipeline="monitor", step=step.name,
                    args=args, inputs=tuple(inputs),
                    outputs=(("report", f"{out}/report"), ("violated", f"{out}/violated"))).argv()


def docker_run(docker_env, argv, mounts=(), env=None):
    import os

    cmd = ["docker", "run", "--rm", "--network", "host"]
    for host, inside in mounts:
        cmd += ["-v", f"{host}:{inside}"]
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
              "STORAGE_EMULATOR_HOST"):
        if os.environ.get(k):
            cmd += ["-e", f"{k}={os.environ[k]}"]
    for k, v in (env or {}).items():
        cmd += ["-e", f"{k}={v}"]
    cmd += ["--entrypoint", argv[0], TAG, *argv[1:]]
    return subprocess.run(cmd, capture_output=True, text=True, env=docker_env, timeout=600, check=False)


def upload(local: Path, uri: str) -> None:
    from mlopsc.runtime import storage

    fs, root = storage.filesystem(uri)
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        with fs.open(f"{root}/{path.relative_to(local).as_posix()}", "wb") as f:
            f.write(path.read_bytes())


def local_verdict(spec_path: Path, captures: Path, work: Path) -> dict:
    """The same step in this process on the same files from a directory."""
    from mlopsc.api import load_project
    from mlopsc.runtime.actions_data import drift
    from mlopsc.runtime.steps import StepContext

    out = work / "out"
    ctx = StepContext(project=load_project(str(spec_path)), spec_dir=spec_path.parent, workdir=work,
                      step="detect-drift", target="sagemaker", args={"captures": str(captures)}, log=lambda m: None,
                      outputs={"report": str(out / "report"), "violated": str(out / "violated")})
    drift(ctx)
    return json.loads((out / "report").read_text())


def summary(report: dict) -> list:
    return [(f["feature"], round(f["statistic"], 9), f["drifted"]) for f in report["features"]]


def test_each_format_in_object_storage_is_read_by_the_step_in_the_image(image, docker_env, tmp_path):
    with moto_server() as url, gcs_emulator():
        import boto3
        from mlopsc.runtime import storage

        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="acme-ml")
        s3.create_bucket(Bucket="captures")
        s3.put_object(Bucket="acme-ml", Key="churn/customers.parquet", Body=datasets()["customers.parquet"])
        storage.filesystem("gs://captures")[0].mkdir("captures")
        for kind in FORMATS:
            uri = f"{'gs' if kind == 'vertex' else 's3'}://captures/{kind}"
            verdicts = []
            for n, ((rows, preds), start) in enumerate(zip(windows(), (T0, T1))):
                files = tmp_path / kind / f"window{n}"
                write_format(kind, rows, preds, files, start)
                upload(files, uri)
                out = tmp_path / kind / f"out{n}"
                out.mkdir(parents=True)
                proc = docker_run(docker_env, step_argv(image, uri, "/out"), [(out, "/out")])
                assert proc.returncode == 0, kind + proc.stdout[-2000:] + proc.stderr[-3000:]
                report = json.loads((out / "report").read_text())
                assert report["current_rows"] == 1500 and report["source"] == uri, kind
                expected = local_verdict(image, files, tmp_path / kind / f"local{n}")
                assert summary(report) == summary(expected), kind
                verdicts.append(report["drifted"])
            assert verdicts == [False, True], kind  # the second run read only the second window


def test_model_monitor_job_reads_datacapture_and_writes_the_alarms_metrics(image, docker_env, tmp_path):
    from mlopsc.api import load_project
    from mlopsc.targets.sagemaker.monitor import CAPTURED, RESULTS, monitor_template
    from mlopsc.targets.sagemaker.settings import settings

    project = load_project(str(image))
    template = monitor_template(project, settings(project))
    job = template["Resources"]["DataQualityJobDefinition"]["Properties"]
    schedule = template["Resources"]["DriftSchedule"]["Properties"]["MonitoringScheduleName"]
    endpoint = template["Parameters"]["EndpointName"]["Default"]
    alarms = {r["Properties"]["MetricName"]: r["Properties"] for r in template["Resources"].values()
              if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["Namespace"].endswith("data-metrics")}
    rows, preds = windows()[1]
    captured = tmp_path / "endpoint"
    write_format("sagemaker", rows, preds, captured, T1)
    results, output = tmp_path / "results", tmp_path / "output"
    results.mkdir()
    output.mkdir()
    env = {**job["DataQualityAppSpecification"]["Environment"], "sagemaker_endpoint_name": endpoint,
           "sagemaker_monitoring_schedule_name": schedule, "dataset_source": CAPTURED,
           "start_time": "2026-11-30T10:00:00Z", "end_time": "2026-11-30T11:00:00Z",
           "dataset_format": '{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput","endpointOutput"]}}'}
    with moto_server() as url:
        import boto3

        boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket="acme-ml")
        boto3.client("s3", endpoint_url=url, region_name="us-east-1").put_object(
            Bucket="acme-ml", Key="churn/customers.parquet", Body=datasets()["customers.parquet"])
        proc = docker_run(docker_env, job["DataQualityAppSpecification"]["ContainerEntrypoint"],
                          [(captured, CAPTURED), (results, RESULTS), (output, "/opt/ml/output")], env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads((results / "report.json").read_text())
    assert report["drifted"] is True and report["current_rows"] == 1500
    metrics = [json.loads(line) for line in (output / "metrics" / "cloudwatch" / "drift.jsonl").read_text().splitlines()]
    assert sorted(m["MetricName"] for m in metrics) == sorted(alarms)
    for m in metrics:
        alarm = alarms[m["MetricName"]]
        dims = [{"Name": d["Name"], "Value": endpoint if d["Value"] == {"Ref": "EndpointName"} else d["Value"]}
                for d in alarm["Dimensions"]]
        assert m["Dimensions"] == dims and m["Timestamp"] == "2026-11-30T11:00:00Z"
        feature = m["MetricName"].removeprefix("feature_baseline_drift_")
        stat = next(f["statistic"] for f in report["features"] if f["feature"] == feature)
        assert m["Value"] == stat and (m["Value"] > alarm["Threshold"]) == (feature in report["drifted_features"])
