"""Feedback end to end on a local model server: `POST /feedback` stored beside the captures, the
monitor's collect-feedback step reporting rates, corrections written into the training data."""

import json
from pathlib import Path

import pandas as pd
import pytest
from mlopsc.api import load_project
from mlopsc.runtime import feedback, feedback_monitor
from mlopsc.runtime.httpbase import Upstream
from mlopsc.runtime.serving import ModelServer
from mlopsc.runtime.steps import StepContext, run_step

ROOT = Path(__file__).resolve().parents[2]
FEEDBACK = "\n  feedback:\n    signals: [thumbs, correction]\n"


@pytest.fixture
def project(tmp_path):
    """churn-local with monitoring.feedback, and a small training dataset of its own."""
    text = (ROOT / "specs" / "churn-local.yaml").read_text()
    spec = tmp_path / "churn-local.yaml"
    spec.write_text(text.replace("\nmonitoring:\n", "\nmonitoring:" + FEEDBACK, 1))
    data = tmp_path / "churn_local" / "data"
    data.mkdir(parents=True)
    pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "tenure_months": [1, 2, 3], "monthly_spend": [10.0, 20.0, 30.0],
                  "orders_30d": [1, 0, 2], "plan": ["basic", "pro", "basic"], "churned": [False, False, True]}
                 ).to_parquet(data / "customers.parquet", index=False)
    return spec


def post(url, body):
    status, _body, _headers = Upstream(timeout=10).request("POST", url + "/feedback", json.dumps(body).encode(),
                                                           {"Content-Type": "application/json"})
    return status, json.loads(_body)


def test_feedback_is_stored_reported_and_corrections_feed_training(project, tmp_path, monkeypatch):
    spec = load_project(str(project))
    for name, value in feedback.server_env(spec, tmp_path, "production").items():
        monkeypatch.setenv(name, value)
    with ModelServer(lambda rows: [0] * len(rows), name="churn-local", version="4") as server:
        assert post(server.url, {"request_id": "r1", "signal": "thumbs", "value": "down"})[0] == 202
        assert post(server.url, {"request_id": "r2", "signal": "thumbs", "value": "up"})[0] == 202
        assert post(server.url, {"request_id": "r1", "signal": "correction", "value": True})[0] == 202
        assert post(server.url, {"request_id": "r9", "signal": "correction", "value": True})[0] == 202  # not captured
        status, answer = post(server.url, {"request_id": "r2", "signal": "rating", "value": 4})
        assert status == 400 and "not collected here" in answer["error"]
        assert post(server.url, {"signal": "thumbs", "value": "up"})[0] == 400
        assert post(server.url, {"request_id": "r2", "signal": "thumbs", "value": "meh"})[0] == 400
    stored = feedback.read(tmp_path / ".mlopsc" / "captures" / "production" / "feedback")
    assert [(r["request_id"], r["signal"], r["value"], r["version"]) for r in stored] == [
        ("r1", "thumbs", "down", "4"), ("r2", "thumbs", "up", "4"), ("r1", "correction", True, "4"),
        ("r9", "correction", True, "4")]

    # what the capture reader gives for the served requests: features, prediction, request_id, timestamp
    captured = pd.DataFrame({"customer_id": ["c2", "c7", "c8", "c9"], "tenure_months": [5, 1, 2, 3],
                             "monthly_spend": [25.0, 5.0, 6.0, 7.0], "orders_30d": [3, 0, 0, 0],
                             "plan": ["pro", "basic", "basic", "basic"], "prediction": [0, 0, 0, 0],
                             "request_id": ["r1", "r2", "r3", "r4"], "timestamp": ["2026-11-30T10:00:00Z"] * 4})
    monkeypatch.setattr(feedback_monitor, "captured_requests", lambda ctx, env: captured)
    report_path = tmp_path / "report.json"
    ctx = StepContext(project=spec, spec_dir=tmp_path, workdir=tmp_path, log=lambda _m: None,
                      outputs={"report": str(report_path)})
    run_step("feedback", ctx)
    report = json.loads(report_path.read_text())
    assert report["served_requests"] == 4 and report["feedback"] == 4
    assert report["signals"]["thumbs"] == {"count": 2, "requests": 2, "rate": 0.5, "up_share": 0.5}
    assert report["signals"]["correction"] == {"count": 2, "requests": 2, "rate": 0.5}
    assert report["corrections"]["fed"] == 1
    data = pd.read_parquet(tmp_path / "churn_local" / "data" / "customers.parquet")
    # c2 was corrected: its captured features and the corrected label replace the old row
    assert data.sort_values("customer_id").to_dict(orient="list") == {
        "customer_id": ["c1", "c2", "c3"], "tenure_months": [1, 5, 3], "monthly_spend": [10.0, 25.0, 30.0],
        "orders_30d": [1, 3, 2], "plan": ["basic", "pro", "basic"], "churned": [False, True, True]}
    run_step("feedback", ctx)  # applied once: a second monitor run changes nothing
    assert json.loads(report_path.read_text())["corrections"] == {"fed": 0}
    assert pd.read_parquet(tmp_path / "churn_local" / "data" / "customers.parquet").equals(data)


def test_a_server_without_feedback_answers_404(monkeypatch):
    monkeypatch.delenv(feedback.DIR_ENV, raising=False)
    with ModelServer(lambda rows: rows, name="m") as server:
        status, answer = post(server.url, {"request_id": "r1", "signal": "thumbs", "value": "up"})
    assert status == 404 and "monitoring.feedback" in answer["error"]


def test_the_spec_without_feedback_has_no_feedback_step():
    plain = load_project(str(ROOT / "specs" / "churn-local.yaml"))
    assert feedback.server_env(plain, Path("/tmp"), "production") == {}
    assert "collect-feedback" not in [s.name for s in plain.pipeline("monitor").steps]
    churn = load_project(str(ROOT / "specs" / "churn.yaml"))
    assert "collect-feedback" in [s.name for s in churn.pipeline("monitor").steps]


def test_feedback_sent_to_the_environment_endpoint_reaches_the_champion(tmp_path, project):
    from mlopsc.runtime.router import Router

    spec = load_project(str(project))
    with ModelServer(lambda rows: [0] * len(rows), name="churn-local", version="2") as server:
        server.feedback = feedback.FeedbackLog.for_server(spec, tmp_path, "production")
        with Router(server.url) as router:
            assert post(router.url, {"request_id": "r5", "signal": "thumbs", "value": True}) == (
                202, {"accepted": True, "request_id": "r5"})
            assert post(router.url, {"request_id": "r5", "signal": "regenerate"})[0] == 400
    stored = feedback.read(feedback.directory(tmp_path, "production"))
    assert [(r["request_id"], r["value"], r["version"]) for r in stored] == [("r5", "up", "2")]
