"""The budget gate: over budget an error at the costliest lines, over alert_at a warning, else nothing."""

import os
import re
from pathlib import Path

import pytest
from mlopsc import api

from tests.example_specs import ROOT

CHURN = os.path.join(ROOT, "specs", "churn.yaml")


def _variant(tmp_path, budget, alert_at=0.8, target_block=None):
    text = Path(CHURN).read_text(encoding="utf-8")
    text = text.replace("budget_monthly_usd: 8000\n  alert_at: 0.8", f"budget_monthly_usd: {budget}\n  alert_at: {alert_at}")
    if target_block is not None:
        text = text[:text.index("targets:\n")] + target_block
    os.symlink(os.path.join(ROOT, "specs", "churn_local"), tmp_path / "churn_local")
    path = tmp_path / "churn.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_example_under_alert_passes_without_warning():
    assert api.validate(CHURN) == []


def test_over_budget_is_an_error_at_the_largest_lines(tmp_path):
    spec = _variant(tmp_path, 1000)
    found = api.validate(spec)
    assert {d.code for d in found} == {"E801"} and {d.severity for d in found} == {"error"}
    sagemaker = next(d for d in found if "on sagemaker" in d.message)
    # serving is the largest line: 10 replicas of ml.m5.large per environment, at deployment.serving.autoscaling
    assert (sagemaker.line, sagemaker.col) == (95, 18)
    assert "$1,761.55" in sagemaker.message and "over the budget of $1,000.00" in sagemaker.message
    assert re.search(r"largest: serving/staging \$839\.50 \(line 95\), serving/production \$839\.50 \(line 95\), "
                     r"train/train \$73\.71 \(line 54\)", sagemaker.message), sagemaker.message
    assert "max_replicas" in sagemaker.hint
    assert len(found) == 4  # one per configured target


def test_between_alert_and_budget_is_a_warning(tmp_path):
    spec = _variant(tmp_path, 2000, alert_at=0.5)
    found = api.validate(spec)
    assert {d.code for d in found} == {"W802"} and {d.severity for d in found} == {"warning"}
    assert all("over 50% of the budget of $2,000.00" in d.message for d in found)


def test_compile_gates_only_the_targets_it_compiles(tmp_path):
    spec = _variant(tmp_path, 1720)  # sagemaker's upper bound is 1761.55; vertex's 1360.43 is under 0.8 * 1720
    over = api.compile_spec(spec, ["sagemaker"])
    assert not over.ok and [d.code for d in over.diagnostics if d.severity == "error"] == ["E801"]
    under = api.compile_spec(spec, ["vertex"])
    assert under.ok and not [d for d in under.diagnostics if d.code in ("E801", "W802")]


def test_spot_hint_for_a_costly_on_demand_training_step(tmp_path):
    from mlopsc.cost.budget import gate

    project = api.load_project(_variant(tmp_path, 1))
    [d] = gate(project, ["kubeflow"])
    assert "spot" in d.hint  # kubeflow trains on demand


def test_spec_without_targets_is_gated_as_a_local_run(tmp_path):
    spec = _variant(tmp_path, 100, target_block="")
    [d] = api.validate(spec)
    assert d.code == "E801" and "on local" in d.message


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_validate_cli_exits_1_over_budget(tmp_path, fmt):
    from click.testing import CliRunner
    from mlopsc.cli import cli

    result = CliRunner().invoke(cli, ["validate", "--format", fmt, _variant(tmp_path, 1000)])
    assert result.exit_code == 1 and "E801" in result.output


def test_spec_overrides_the_kubernetes_node_table(tmp_path):
    from mlopsc.cost import estimate
    from mlopsc.cost.prices import book_for

    spec = _variant(tmp_path, 8000)
    text = Path(spec).read_text(encoding="utf-8")
    Path(spec).write_text(text.replace("  alert_at: 0.8\n", "  alert_at: 0.8\n  prices: nodes.yaml\n"), encoding="utf-8")
    (tmp_path / "nodes.yaml").write_text("kubernetes:\n  nodes:\n    m5.large: {cpu: 2, memory_gib: 8, usd_per_hour: 0.5}\n")
    project = api.load_project(spec)
    est = estimate(project, "kubeflow", book_for(project.spec_path, project.cost.prices))
    serving = next(ln for ln in est.lines if ln.name == "production")
    assert serving.resource == "1 x m5.large" and serving.high_usd == 7300 * 0.5
    # the cluster's table replaces the shipped one: only m5.large is left on kubeflow and local
    assert {ln.resource.split(" x ")[1] for ln in est.lines if ln.unit == "h"} == {"m5.large"}
    found = api.validate(spec)  # 2 x 3650 for serving alone passes 0.8 x 8000 there
    assert sorted(d.message.split(",")[0] for d in found) == ["on kubeflow", "on local"]
    assert {d.code for d in found} == {"W802"}
    os.remove(tmp_path / "nodes.yaml")
    [missing] = api.validate(spec)
    assert missing.code == "E804" and (missing.line, missing.col) == (133, 3) and "nodes.yaml" in missing.message
