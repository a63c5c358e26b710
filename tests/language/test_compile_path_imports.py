"""validate and compile must not import the heavy SDKs (they are extras for submit/runtime/tests)."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAVY = ["kfp", "boto3", "botocore", "sagemaker", "google.cloud.aiplatform", "mlflow", "torch", "pandas", "numpy",
         "feast", "optuna"]

PROBE = """
import json, sys
from mlopsc import cli
try:
    cli.cli(sys.argv[1:], prog_name="mlopsc", standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules)), file=sys.stderr)
"""


def _modules_after(*args, cwd):
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True)
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


def _heavy(modules):
    return sorted(m for m in modules for h in HEAVY if m == h or m.startswith(h + "."))


def test_validate_imports_no_heavy_sdk():
    assert _heavy(_modules_after("validate", "specs/churn.yaml", "specs/support-assistant.yaml", cwd=ROOT)) == []


def test_compile_all_targets_imports_no_heavy_sdk(tmp_path):
    modules = _modules_after("compile", os.path.join(ROOT, "specs", "churn.yaml"), "--target", "all",
                             "--out", str(tmp_path), cwd=ROOT)
    assert "mlopsc.api" in modules  # the probe really compiled
    assert _heavy(modules) == []


def test_targets_listing_imports_no_heavy_sdk():
    assert _heavy(_modules_after("targets", cwd=ROOT)) == []
