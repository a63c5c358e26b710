#!/usr/bin/env bash
# The README's first command: install mlopsc and run the main job on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e .
.venv/bin/mlopsc validate specs/churn.yaml specs/support-assistant.yaml
.venv/bin/mlopsc compile specs/churn.yaml --target all --out build/churn
