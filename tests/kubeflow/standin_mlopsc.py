#!/usr/bin/env python3
"""STAND-IN for `mlopsc step`, used ONLY by the kfp.local test while the runtime's `mlopsc step`
command does not exist yet. It implements the step contract's I/O, nothing of a step's work:
it checks every `--input` path exists, writes every `--output` (a parameter value from
STANDIN_PARAMS, or a file for an artifact), and writes KFP's ExecutorOutput to
`--executor-output`. A log line per call goes to STANDIN_LOG.
"""

import json
import os
import sys


def main(argv):
    action, rest = argv[1], argv[2:]
    pairs = {"--input": {}, "--output": {}, "--arg": {}}
    executor_output = None
    i = 0
    while i < len(rest):
        flag, value = rest[i], rest[i + 1]
        i += 2
        if flag == "--executor-output":
            executor_output = value
        elif flag in pairs:
            key, _, ref = value.partition("=")
            pairs[flag][key] = ref
    params = dict(p.split("=", 1) for p in os.environ.get("STANDIN_PARAMS", "").split(",") if p)
    for key, ref in pairs["--input"].items():
        if ref.startswith("/") and not os.path.exists(ref):
            sys.exit(f"input {key} missing at {ref}")
    artifacts, values = {}, {}
    for key, path in pairs["--output"].items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            if key in params:
                fh.write(params[key])
                values[key] = json.loads(params[key])
            else:
                json.dump({"step": action, "output": key, "inputs": sorted(pairs["--input"])}, fh)
                artifacts[key] = {"artifacts": [{"name": key, "uri": path, "metadata": {}}]}
    if executor_output:
        os.makedirs(os.path.dirname(executor_output), exist_ok=True)
        with open(executor_output, "w") as fh:
            json.dump({"artifacts": artifacts, "parameterValues": values}, fh)
    with open(os.environ["STANDIN_LOG"], "a") as fh:
        fh.write(json.dumps({"action": action, "inputs": pairs["--input"], "args": pairs["--arg"]}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
