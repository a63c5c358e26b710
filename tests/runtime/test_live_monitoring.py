"""The monitoring loop on captured traffic, as a user runs it: `mlopsc run --serve` keeps the
production endpoint up, traffic goes through it (unshifted, then shifted rows), and
`mlopsc monitor SPEC` with no `--data` passes on the first window and flags drift on the second."""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
FEATURES = ["customer_id", "tenure_months", "monthly_spend", "orders_30d", "plan"]


def env():
    return {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("live")
    # the staging load test's latency bound is the example's; this test is about monitoring, on a
    # machine other tests load, so it gives the load test room
    text = (ROOT / "specs" / "churn-local.yaml").read_text()
    assert "max_p95_ms: 100" in text
    (root / "churn-local.yaml").write_text(text.replace("max_p95_ms: 100", "max_p95_ms: 5000"))
    shutil.copytree(ROOT / "specs" / "churn_local", root / "churn_local",
                    ignore=shutil.ignore_patterns("data", "__pycache__"))
    subprocess.run([sys.executable, str(root / "churn_local" / "make_data.py")], check=True, capture_output=True)
    work = root / "work"
    work.mkdir()
    spec = root / "churn-local.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "mlopsc", "run", str(spec), "--approve", "--serve",
                             "--workdir", str(work)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env(), stdin=subprocess.DEVNULL, start_new_session=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen = []
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=5)
            except queue.Empty:
                assert proc.poll() is None, "".join(seen)
                continue
            seen.append(line)
            if line.startswith("serving; Ctrl-C"):
                break
        else:
            pytest.fail("mlopsc run --serve did not start serving:\n" + "".join(seen))
        state = json.loads((work / ".mlopsc" / "serving" / "production.json").read_text())
        yield {"root": root, "work": work, "spec": spec, "endpoint": state["endpoint"], "output": seen}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)
        assert not any((work / ".mlopsc" / "serving").glob("*.json")), "servers left running"


def send(endpoint, df, batch=100):
    ids = []
    for i in range(0, len(df), batch):
        rows = json.loads(df[FEATURES].iloc[i:i + batch].to_json(orient="records"))
        request = urllib.request.Request(endpoint + "/predict", json.dumps({"instances": rows}).encode(),
                                         {"Content-Type": "application/json", "X-Request-Id": f"batch-{i}-{len(df)}"}
                                         if i == 0 else {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
            ids.append(answer.headers["X-Request-Id"])
            assert len(json.loads(answer.read())["predictions"]) == len(rows)
    return ids


def monitor(served):
    return subprocess.run([sys.executable, "-m", "mlopsc", "monitor", str(served["spec"]), "--workdir",
                           str(served["work"])], capture_output=True, text=True, env=env(), timeout=600, check=False)


def captured_ids(served):
    ids = []
    for path in sorted((served["work"] / ".mlopsc" / "captures" / "production").glob("*.jsonl")):
        ids += [json.loads(line)["id"] for line in path.read_text().splitlines()]
    return ids


def test_monitor_without_data_reads_captured_traffic_window_by_window(served):
    data = served["root"] / "churn_local" / "data"
    first_ids = send(served["endpoint"], pd.read_parquet(data / "current.parquet"))
    assert first_ids[0] == "batch-0-3000" and len(set(first_ids)) == len(first_ids) == 30
    assert set(first_ids) <= set(captured_ids(served))  # each answer's request id is a capture row's id
    first = monitor(served)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "no violations" in first.stdout and "captured rows from" in first.stdout
    report_path = served["work"] / ".mlopsc" / "runs" / "monitor" / "detect-drift" / "report"
    report = json.loads(report_path.read_text())
    assert report["drifted"] is False and report["current_rows"] >= 3000 and report["window"]["since"] is None
    send(served["endpoint"], pd.read_parquet(data / "shifted.parquet"))
    second = monitor(served)
    assert second.returncode == 1, second.stdout + second.stderr
    assert "DRIFT tenure_months" in second.stdout and "monitoring violations: detect-drift" in second.stderr
    report = json.loads(report_path.read_text())
    assert report["drifted"] is True and report["current_rows"] == 3000  # only the second window
    assert report["window"]["since"] is not None
