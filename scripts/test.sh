#!/usr/bin/env bash
# The README's test command: install mlopsc with every extra the tests use, then run the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e '.[kubeflow,vertex,local,test]'
exec .venv/bin/python -m pytest "$@"
