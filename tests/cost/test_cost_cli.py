"""`mlopsc cost`: the thin command over mlopsc.cost.report, its formats and exit codes."""

import json
import os

from click.testing import CliRunner
from mlopsc.cli import cli
from mlopsc.cost import report

from tests.example_specs import ROOT

CHURN = os.path.join(ROOT, "specs", "churn.yaml")


def _run(*args):
    return CliRunner().invoke(cli, ["cost", *args])


def test_json_totals_per_configured_target():
    result = _run(CHURN, "--format", "json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    totals = {e["target"]: e["monthly_usd"] for e in body["estimates"]}
    assert sorted(totals) == ["kubeflow", "local", "sagemaker", "vertex"]
    assert totals["sagemaker"] == [250.45, 1761.55]
    assert body["budget_monthly_usd"] == 8000.0
    sm = next(e for e in body["estimates"] if e["target"] == "sagemaker")
    assert "sagemaker" in sm["price_tables"] and "https://" in sm["price_tables"]["sagemaker"]


def test_text_and_markdown_name_every_line_with_its_assumption():
    text = _run(CHURN, "--target", "sagemaker").stdout
    assert text.startswith("sagemaker: $250.45 - $1,761.55 a month (budget $8,000.00)")
    assert "train/train" in text and "ml.g4dn.xlarge" in text and "spot: 70% off" in text
    md = _run(CHURN, "--target", "vertex", "--format", "markdown").stdout
    assert md.startswith("### Monthly cost estimate") and "| vertex | $347.33 - $1,360.43 |" in md


def test_prices_file_and_its_errors(tmp_path):
    own = tmp_path / "prices.yaml"
    own.write_text("sagemaker:\n  instances: {ml.m5.large: 0.0}\n")
    cheaper = json.loads(_run(CHURN, "-t", "sagemaker", "--prices", str(own), "--format", "json").stdout)
    assert cheaper["estimates"][0]["monthly_usd"][1] == round(1761.55 - 2 * 839.5, 2)
    own.write_text("- not a mapping\n")
    result = _run(CHURN, "--prices", str(own))
    assert result.exit_code == 2 and "must be a mapping" in result.stderr


def test_unknown_target_and_invalid_spec(tmp_path):
    assert _run(CHURN, "--target", "airflow").exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: mlopsc/v1\nname: x\ntraining: {}\n")
    result = _run(str(bad))
    assert result.exit_code == 1 and "error[E202]" in result.stderr


def test_stale_table_is_a_warning(tmp_path):
    import datetime

    result = report.build(CHURN, "sagemaker", None, today=datetime.date(2030, 1, 1))
    [stale] = [d for d in result.diagnostics if d.code == "W803"]
    assert stale.severity == "warning" and "`sagemaker`" in stale.message
    assert (stale.line, stale.col) == (133, 3)  # the spec's cost block


def test_cost_imports_no_heavy_sdk():
    """Pricing reads JSON tables and the targets' type mappings: no SDK, and no MLflow without --actual."""
    import subprocess
    import sys

    probe = ("import json, sys\nfrom mlopsc import cli\ntry:\n    cli.cli(sys.argv[1:], prog_name='mlopsc', "
             "standalone_mode=False)\nexcept SystemExit:\n    pass\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", probe, "cost", "specs/churn.yaml", "--target", "all"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    modules = json.loads(proc.stderr.strip().splitlines()[-1])
    heavy = ("kfp", "boto3", "botocore", "sagemaker", "google.cloud.aiplatform", "mlflow", "torch", "pandas")
    assert "mlopsc.cost.estimate" in modules
    assert [m for m in modules for h in heavy if m == h or m.startswith(h + ".")] == []
    assert "mlopsc.targets.sagemaker.target" not in modules  # only the instance table is read


def test_json_is_byte_identical_under_any_hash_seed():
    import os as _os
    import subprocess
    import sys

    outputs = set()
    for seed in ("0", "1", "4242"):
        env = {**_os.environ, "PYTHONHASHSEED": seed}
        for spec in ("churn", "support-assistant", "churn-local"):
            proc = subprocess.run([sys.executable, "-m", "mlopsc", "cost", f"specs/{spec}.yaml", "--format", "json"],
                                  cwd=ROOT, env=env, capture_output=True, check=False)
            assert proc.returncode == 0, proc.stderr
            outputs.add((spec, proc.stdout))
    assert len(outputs) == 3
