#!/usr/bin/env bash
# The README's first command: install mlopsc and run the main job on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e ".[local]"
.venv/bin/mlopsc validate specs/churn.yaml specs/churn-local.yaml specs/support-assistant.yaml
.venv/bin/mlopsc compile specs/churn.yaml --target all --out build/churn
# The whole lifecycle on this machine: deterministic data, then validate -> features -> train
# (a small sweep, torch) -> evaluate and gate -> register (MLflow, SQLite under .mlopsc/) ->
# staging deploy, smoke and load tests -> approval -> canary to production with automatic rollback;
# it prints the production endpoint and one prediction answered over HTTP.
.venv/bin/python specs/churn_local/make_data.py
.venv/bin/mlopsc run specs/churn-local.yaml --approve
# Monitoring on live traffic: the production model answers over HTTP (`mlopsc serve`), every answer
# is captured under .mlopsc/captures/production/, and `mlopsc monitor` with no --data checks the
# traffic captured since its last run: a batch from the same population passes, then traffic after
# a market shift trips the PSI threshold (exit 1).
PORT=${MLOPSC_DEMO_PORT:-8765}
.venv/bin/mlopsc serve specs/churn-local.yaml --environment production --port "$PORT" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null' EXIT
send() {  # every row of a parquet file, 100 per request, to the production endpoint
  .venv/bin/python - "$1" "$PORT" <<'PY'
import json, sys, time, urllib.request
import pandas as pd
rows = json.loads(pd.read_parquet(sys.argv[1]).drop(columns=["churned"]).to_json(orient="records"))
url = f"http://127.0.0.1:{sys.argv[2]}/predict"
for _ in range(120):  # the server loads the model first
    try:
        urllib.request.urlopen(url.replace("/predict", "/health"), timeout=2)
        break
    except OSError:
        time.sleep(1)
for i in range(0, len(rows), 100):
    body = json.dumps({"instances": rows[i:i + 100]}).encode()
    urllib.request.urlopen(urllib.request.Request(url, body, {"Content-Type": "application/json"}), timeout=30)
print(f"sent {len(rows)} rows to {url}")
PY
}
send specs/churn_local/data/current.parquet
.venv/bin/mlopsc monitor specs/churn-local.yaml
send specs/churn_local/data/shifted.parquet
if .venv/bin/mlopsc monitor specs/churn-local.yaml; then
  echo "expected the shifted traffic to trip the drift threshold" >&2
  exit 1
fi
echo "drift report: .mlopsc/runs/monitor/detect-drift/report.html"
