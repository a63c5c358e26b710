"""Captured traffic: every format read into the same rows, the window since the last run, drift
and performance on captures, and the Model Monitor metric files against the compiled alarms."""

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlopsc.api import load_project
from mlopsc.runtime import captures, live_data, model_monitor
from mlopsc.runtime.actions_data import drift
from mlopsc.runtime.monitoring import performance
from mlopsc.runtime.steps import StepContext, StepFailed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from capture_samples import FORMATS, write_format

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ["customer_id", "tenure_months", "monthly_spend", "orders_30d", "plan"]
T0 = dt.datetime(2026, 11, 30, 9, 0, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 11, 30, 11, 30, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("captures")
    shutil.copy(ROOT / "specs" / "churn-local.yaml", root / "churn-local.yaml")
    shutil.copytree(ROOT / "specs" / "churn_local", root / "churn_local",
                    ignore=shutil.ignore_patterns("data", "__pycache__"))
    subprocess.run([sys.executable, str(root / "churn_local" / "make_data.py")], check=True, capture_output=True)
    data = root / "churn_local" / "data"
    return {"root": root, "spec": root / "churn-local.yaml", "ir": load_project(str(root / "churn-local.yaml")),
            "current": pd.read_parquet(data / "current.parquet").head(1000),
            "shifted": pd.read_parquet(data / "shifted.parquet").head(1000)}


def rows_and_predictions(df):
    rows = json.loads(df[FEATURES].to_json(orient="records"))
    return rows, [round(0.01 * (i % 100), 2) for i in range(len(rows))]


def ctx_for(project, tmp_path, loc, step="detect-drift", **extra):
    out = tmp_path / "out" / step
    return StepContext(project=project["ir"], spec_dir=project["root"], workdir=tmp_path, step=step,
                       args={"captures": str(loc), **extra}, log=lambda m: None,
                       outputs={"report": str(out / "report"), "violated": str(out / "violated")})


@pytest.mark.parametrize("kind", FORMATS)
def test_each_format_reads_into_the_same_rows(project, tmp_path, kind):
    rows, preds = rows_and_predictions(project["current"].head(120))
    write_format(kind, rows, preds, tmp_path, T0)
    frame, newest = captures.read_window(str(tmp_path))
    frame = frame.sort_values(["request_id"], kind="stable").reset_index(drop=True)
    assert list(frame.columns) == [*FEATURES, "prediction", "request_id", "timestamp"]
    assert frame[FEATURES].to_dict(orient="records") == rows
    assert frame["prediction"].tolist() == preds
    assert frame["request_id"].tolist() == [f"req-090000-{i // 50:05d}" for i in range(120)]
    assert newest.startswith("2026-11-30T09:00:02")


def test_kserve_events_pair_requests_and_responses_across_files(tmp_path):
    from capture_samples import _kserve

    req, resp = _kserve("a1", T0, [{"x": 1}], [0.5])
    (tmp_path / "one.jsonl").write_text(json.dumps(req) + "\n")
    (tmp_path / "two.jsonl").write_text(json.dumps(resp) + "\n")
    frame, _ = captures.read_window(str(tmp_path))
    assert frame[["x", "prediction", "request_id"]].to_dict(orient="records") == [
        {"x": 1, "prediction": 0.5, "request_id": "a1"}]


def test_sagemaker_csv_capture_takes_the_schema_columns(tmp_path):
    record = {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                                "data": "3,29.5,1\n4,10,0\n", "encoding": "CSV"},
                              "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                                 "data": "[0.1, 0.9]", "encoding": "JSON"}},
              "eventMetadata": {"eventId": "e1", "inferenceTime": "2026-11-30T09:00:00Z"}, "eventVersion": "0"}
    (tmp_path / "c.jsonl").write_text(json.dumps(record) + "\n")
    frame, _ = captures.read_window(str(tmp_path), columns=("tenure_months", "monthly_spend", "orders_30d"))
    assert frame[["tenure_months", "monthly_spend", "orders_30d", "prediction", "request_id"]].values.tolist() == [
        [3, 29.5, 1, 0.1, "e1"], [4, 10, 0, 0.9, "e1"]]


def test_a_line_of_no_known_format_is_located(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "time": "2026-11-30T09:00:00Z", "instances": []}\n{"nope": 1}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not a captured exchange"):
        captures.read_window(str(tmp_path))


def test_the_writer_is_append_only_sampled_by_request_id_and_skips_feedback(tmp_path):
    w = captures.CaptureWriter(tmp_path, sample=0.5, model="m")
    kept = [rid for rid in (f"r{i}" for i in range(400)) if w.write(rid, [{"a": 1}], [0])]
    w.close()
    assert 150 < len(kept) < 250 and kept == [r for r in (f"r{i}" for i in range(400)) if captures.sampled(r, 0.5)]
    (tmp_path / "feedback").mkdir()
    (tmp_path / "feedback" / "f.jsonl").write_text('{"request_id": "r1", "signal": "thumbs"}\n')
    frame, _ = captures.read_window(str(tmp_path))
    assert sorted(frame["request_id"]) == sorted(kept)


@pytest.mark.parametrize("kind", FORMATS)
def test_drift_on_captures_passes_then_flags_the_shifted_window(project, tmp_path, kind):
    loc = tmp_path / "captures"
    write_format(kind, *rows_and_predictions(project["current"]), loc, T0)
    first = drift(ctx_for(project, tmp_path, loc))
    assert first["drifted"] is False
    report = json.loads((tmp_path / "out" / "detect-drift" / "report").read_text())
    assert report["current_rows"] == 1000 and report["window"]["since"] is None
    with pytest.raises(StepFailed, match="no captured traffic in .* since 2026-11-30T09:00:19"):
        drift(ctx_for(project, tmp_path, loc))  # nothing new since the last run
    write_format(kind, *rows_and_predictions(project["shifted"]), loc, T1)
    second = drift(ctx_for(project, tmp_path, loc))
    assert second["drifted"] is True and "tenure_months" in second["drifted_features"]
    report = json.loads((tmp_path / "out" / "detect-drift" / "report").read_text())
    assert report["current_rows"] == 1000 and report["window"]["since"].startswith("2026-11-30T09:00:19")


def test_the_same_rows_give_the_same_statistics_in_every_format(project, tmp_path):
    stats = {}
    for kind in FORMATS:
        loc = tmp_path / kind
        write_format(kind, *rows_and_predictions(project["shifted"]), loc, T0)
        drift(ctx_for(project, tmp_path / f"w-{kind}", loc))
        report = json.loads((tmp_path / f"w-{kind}" / "out" / "detect-drift" / "report").read_text())
        stats[kind] = [(f["feature"], f["statistic"], f["drifted"]) for f in report["features"]]
    assert all(s == stats["local"] for s in stats.values())


def test_performance_joins_delayed_labels_by_request_id(project, tmp_path):
    df = project["current"].head(200)
    rows, _ = rows_and_predictions(df)
    good = [0.9 if c else 0.1 for c in df["churned"]]
    loc = tmp_path / "captures"
    write_format("sagemaker", rows, good, loc, T0, batch=1)
    labels = tmp_path / "labels"
    labels.mkdir()
    ids = [f"req-090000-{i:05d}" for i in range(200)]
    pd.DataFrame({"request_id": ids[:150], "churned": df["churned"].head(150)}).to_parquet(labels / "a.parquet")
    pd.DataFrame({"request_id": ids[150:], "churned": df["churned"].tail(50)}).to_json(
        labels / "b.jsonl", orient="records", lines=True)
    ctx = ctx_for(project, tmp_path, loc, step="check-performance")
    ctx = StepContext(**{**ctx.__dict__, "project": _with_labels(project["ir"], str(labels))})
    assert performance(ctx) == {"violated": False}
    report = json.loads(Path(ctx.outputs["report"]).read_text())
    assert report["joined_predictions"] == 200 and report["metrics"]["auc"] == 1.0
    bad = [0.1 if c else 0.9 for c in df["churned"]]
    write_format("sagemaker", rows, bad, tmp_path / "bad", T0, batch=1)
    ctx2 = StepContext(**{**ctx.__dict__, "args": {"captures": str(tmp_path / "bad")}})
    assert performance(ctx2) == {"violated": True}


def _with_labels(project, uri):
    from dataclasses import replace

    m = project.monitoring
    return replace(project, monitoring=replace(m, performance=replace(m.performance, labels=uri)))


def test_model_monitor_metrics_match_the_compiled_alarms(monkeypatch, tmp_path):
    from mlopsc.targets.sagemaker.monitor import monitor_template
    from mlopsc.targets.sagemaker.settings import settings

    churn = load_project(str(ROOT / "specs" / "churn.yaml"))
    template = monitor_template(churn, settings(churn))
    alarms = {r["Properties"]["MetricName"]: r["Properties"] for r in template["Resources"].values()
              if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["Namespace"].endswith("data-metrics")}
    schedule = template["Resources"]["DriftSchedule"]["Properties"]["MonitoringScheduleName"]
    endpoint = template["Parameters"]["EndpointName"]["Default"]
    monkeypatch.setenv("publish_cloudwatch_metrics", "Enabled")
    monkeypatch.setenv("sagemaker_endpoint_name", endpoint)
    monkeypatch.setenv("sagemaker_monitoring_schedule_name", schedule)
    monkeypatch.setenv("end_time", "2026-11-30T10:00:00Z")
    monkeypatch.setenv("MLOPSC_CLOUDWATCH_METRICS_DIR", str(tmp_path))
    report = {"features": [{"feature": f, "statistic": 0.05 * i} for i, f in
                           enumerate(churn.monitoring.drift.features)]}
    path, count = model_monitor.publish_drift_metrics(report)
    metrics = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert count == len(alarms) == len(metrics)
    for metric in metrics:
        alarm = alarms[metric["MetricName"]]
        resolved = [{"Name": d["Name"], "Value": endpoint if d["Value"] == {"Ref": "EndpointName"} else d["Value"]}
                    for d in alarm["Dimensions"]]
        assert metric["Dimensions"] == resolved and metric["Timestamp"] == "2026-11-30T10:00:00Z"
    monkeypatch.setenv("publish_cloudwatch_metrics", "Disabled")
    assert model_monitor.publish_drift_metrics(report) is None


def test_feature_columns_are_the_reference_schema_without_the_label(project):
    ctx = StepContext(project=project["ir"], spec_dir=project["root"])
    assert live_data.feature_columns(ctx) == tuple(FEATURES)


def test_the_collector_stores_kserve_logger_events_the_reader_pairs(tmp_path):
    import urllib.request

    from mlopsc.runtime.capture_collector import Collector

    def post(url, ce_type, body, rid="ev-1"):
        headers = {"Content-Type": "application/json", "ce-id": rid, "ce-type": ce_type, "ce-specversion": "1.0",
                   "ce-source": "http://localhost:9081/", "ce-time": "2026-11-30T09:00:00Z",
                   "ce-inferenceservicename": "churn-production"}
        with urllib.request.urlopen(urllib.request.Request(url, json.dumps(body).encode(), headers)) as r:
            assert r.status == 200

    with Collector(str(tmp_path / "out"), host="127.0.0.1", port=0, flush_events=2) as c:
        post(c.url, "org.kubeflow.serving.inference.request", {"instances": [{"tenure_months": 3}]})
        post(c.url, "org.kubeflow.serving.inference.response", {"predictions": [0.7]})
        post(c.url, "org.kubeflow.serving.inference.request", {"instances": [{"tenure_months": 9}]}, rid="ev-2")
        assert c.buffered == 1  # the first two went out as one object
    files = captures.list_files(str(tmp_path / "out"))
    assert len(files) == 2 and all(re.search(r"/out/\d{4}/\d{2}/\d{2}/\d{2}/\d{6}-.*-\d+\.jsonl$", f) for f in files)
    frame, _ = captures.read_window(str(tmp_path / "out"))
    frame = frame.sort_values("request_id").reset_index(drop=True)
    assert frame[["tenure_months", "request_id"]].values.tolist() == [[3, "ev-1"], [9, "ev-2"]]
    assert frame["prediction"].tolist()[0] == 0.7 and frame["prediction"].tolist()[1] is None


def test_each_target_reads_captures_where_it_compiles_them(monkeypatch, tmp_path):
    from mlopsc.targets.kubeflow import collector, kserve
    from mlopsc.targets.sagemaker.cloudformation import deploy_template
    from mlopsc.targets.sagemaker.settings import settings as sm_settings
    from mlopsc.targets.vertex.settings import settings as vx_settings

    monkeypatch.delenv("MLOPSC_CAPTURE_URI", raising=False)
    churn = load_project(str(ROOT / "specs" / "churn.yaml"))
    for name in ("detect-drift", "check-performance"):
        assert ("captures", "production") in churn.pipeline("monitor").step(name).args
    production = churn.deployment.environments[-1]
    config = deploy_template(churn, production, sm_settings(churn))["Resources"]["EndpointConfig"]["Properties"]
    assert captures.location(churn, "sagemaker", "production", tmp_path) == \
        config["DataCaptureConfig"]["DestinationS3Uri"]
    deployment, service = collector.manifests(churn)
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--out") + 1] == captures.location(churn, "kubeflow", "production", tmp_path)
    logger = kserve.inference_service(churn, production)["spec"]["predictor"]["logger"]
    assert logger == {"mode": "all", "url": f"http://{service['metadata']['name']}.ml.svc.cluster.local"}
    assert "logger" not in kserve.inference_service(churn, churn.deployment.environments[0])["spec"]["predictor"]
    assert captures.location(churn, "vertex", "production", tmp_path) == \
        f"{vx_settings(churn).pipeline_root}/captures/churn-classifier/production"
    assert captures.location(churn, "local", "production", tmp_path) == str(tmp_path / ".mlopsc/captures/production")


def test_without_a_feature_list_captured_traffic_is_checked_on_the_schema_minus_label_and_keys(project, tmp_path):
    from dataclasses import replace

    m = project["ir"].monitoring
    spec = replace(project["ir"], monitoring=replace(m, drift=replace(m.drift, features=())))
    loc = tmp_path / "captures"
    write_format("local", *rows_and_predictions(project["current"]), loc, T0)
    ctx = ctx_for(project, tmp_path, loc)
    assert drift(StepContext(**{**ctx.__dict__, "project": spec}))["drifted"] is False
    report = json.loads((tmp_path / "out" / "detect-drift" / "report").read_text())
    assert [f["feature"] for f in report["features"]] == ["tenure_months", "monthly_spend", "orders_30d", "plan"]


SAMPLED_SPEC = "monitoring:\n  schedule: \"0 6 * * *\"\n"


def sampled_churn(tmp_path, sample, spec="churn.yaml"):
    """The example with `monitoring.capture.sample` set."""
    text = (ROOT / "specs" / spec).read_text()
    assert text.count(SAMPLED_SPEC) == 1
    path = tmp_path / spec
    path.write_text(text.replace(SAMPLED_SPEC, SAMPLED_SPEC + f"  capture:\n    sample: {sample}\n"))
    return load_project(str(path))


def test_the_spec_sample_reaches_every_capturing_path(tmp_path):
    """monitoring.capture.sample: the local servers' environment, the Kubeflow collector's command,
    SageMaker's DataCapture percent (whole, at least 1) and Vertex's logging rate."""
    from mlopsc import api
    from mlopsc.targets.kubeflow import collector
    from mlopsc.targets.sagemaker.cloudformation import data_capture
    from mlopsc.targets.sagemaker.settings import settings
    from mlopsc.targets.vertex.deploy import request_logging

    full = load_project(str(ROOT / "specs" / "churn.yaml"))
    assert full.monitoring.capture_sample == 1.0 and captures.sample_env(full) == {}
    for sample, percent in ((0.25, 25), (0.004, 1)):
        project = sampled_churn(tmp_path, sample)
        production = project.deployment.environments[-1]
        assert captures.sample_env(project) == {"MLOPSC_CAPTURE_SAMPLE": repr(sample)}
        (deployment, _service) = collector.manifests(project)
        command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command[-2:] == ["--sample", repr(sample)]
        assert data_capture(project, production, settings(project))["InitialSamplingPercentage"] == percent
        assert request_logging(project, production)["samplingRate"] == sample
        assert request_logging(project, project.deployment.environments[0]) is None  # staging: not monitored
    result = api.compile_spec(str(tmp_path / "churn.yaml"), ["sagemaker"])
    (said,) = [d for d in result.diagnostics if "capture.sample" in d.message]
    assert said.code == "W702" and "records 1% of requests" in said.message and said.line > 1
    stack = json.loads(result.bundles["sagemaker"]["cloudformation/deploy-production.json"])
    configs = [r for r in stack["Resources"].values() if r["Type"] == "AWS::SageMaker::EndpointConfig"]
    assert {c["Properties"]["DataCaptureConfig"]["InitialSamplingPercentage"] for c in configs} == {1}


def test_sampling_keeps_the_same_requests_everywhere(tmp_path, monkeypatch):
    """The local writer (from the environment the runtime sets), the collector (by CloudEvent id,
    request and response together) and the gateway's capture keep the same share of ids."""
    from mlopsc.runtime.capture_collector import Collector
    from mlopsc.runtime.llm_capture import Capture

    ids = [f"req-{i}" for i in range(2000)]
    monkeypatch.setenv("MLOPSC_CAPTURE_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("MLOPSC_CAPTURE_SAMPLE", "0.25")
    writer = captures.CaptureWriter.from_env(model="m", version="1")
    kept_local = {rid for rid in ids if writer.write(rid, [{"x": 1}], [0.5])}
    writer.close()
    assert 400 < len(kept_local) < 600

    collector = Collector(str(tmp_path / "kserve"), host="127.0.0.1", port=0, sample=0.25, flush_events=10**6)
    for rid in ids:
        for kind in ("request", "response"):
            collector.add({"ce-id": rid, "ce-type": f"org.kubeflow.serving.inference.{kind}"}, b"{}")
    kept = [json.loads(line)["ce_id"] for line in collector._lines]
    assert set(kept) == kept_local and len(kept) == 2 * len(kept_local)

    monkeypatch.setenv("MLOPSC_LLM_CAPTURE", str(tmp_path / "llm.jsonl"))
    gateway = Capture()
    for rid in ids:
        gateway.write({"route": "r", "status": "ok"}, rid)
    assert len((tmp_path / "llm.jsonl").read_text().splitlines()) == len(kept_local)
