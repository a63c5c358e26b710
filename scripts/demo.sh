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
# Drift monitoring on a new batch after a market shift: writes the HTML + JSON report and exits 1
# because the shift trips the PSI threshold (a batch from the same population passes).
.venv/bin/mlopsc monitor specs/churn-local.yaml --data specs/churn_local/data/current.parquet
if .venv/bin/mlopsc monitor specs/churn-local.yaml --data specs/churn_local/data/shifted.parquet; then
  echo "expected the shifted batch to trip the drift threshold" >&2
  exit 1
fi
echo "drift report: .mlopsc/runs/monitor/detect-drift/report.html"
