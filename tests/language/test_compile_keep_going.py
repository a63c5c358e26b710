"""`mlopsc compile --target all` writes the targets that compile, reports the ones that fail and
exits 1; `--strict` writes nothing when any fails; a target with nothing to compile says so."""

from __future__ import annotations

import os

from click.testing import CliRunner
from mlopsc.cli import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def grid_spec(tmp_path):
    """specs/churn.yaml with a grid search over a range: SageMaker alone cannot express it (E701)."""
    with open(os.path.join(ROOT, "specs", "churn.yaml"), encoding="utf-8") as fh:
        text = fh.read()
    path = tmp_path / "churn.yaml"
    path.write_text(text.replace("strategy: bayesian ", "strategy: grid "), encoding="utf-8")
    return str(path)


def compile_(*args):
    result = CliRunner().invoke(cli, ["compile", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_all_writes_the_targets_that_compile_and_exits_1(tmp_path):
    out = tmp_path / "build"
    code, stdout, stderr = compile_(grid_spec(tmp_path), "--target", "all", "--out", str(out))
    assert code == 1
    assert sorted(os.listdir(out)) == ["kubeflow", "local", "vertex"]
    assert "error[E701]: target `sagemaker`" in stdout
    assert "failed: sagemaker" in stderr


def test_strict_writes_nothing_when_a_target_fails(tmp_path):
    out = tmp_path / "build"
    code, _, stderr = compile_(grid_spec(tmp_path), "--target", "all", "--out", str(out), "--strict")
    assert code == 1 and not out.exists()
    assert "nothing written" in stderr


def test_one_failing_target_named_alone_writes_nothing(tmp_path):
    out = tmp_path / "build"
    code, _, _ = compile_(grid_spec(tmp_path), "--target", "sagemaker", "--out", str(out))
    assert code == 1 and not out.exists()


def test_check_reports_failures_too(tmp_path):
    out = tmp_path / "build"
    spec = grid_spec(tmp_path)
    compile_(spec, "--target", "all", "--out", str(out))
    code, stdout, _ = compile_(spec, "--target", "all", "--out", str(out), "--check")
    assert code == 1 and "up to date: kubeflow, local, vertex" in stdout


def test_a_target_with_nothing_to_compile_says_so(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("apiVersion: mlopsc/v1\nname: bare\ntracking: {uri: 'http://mlflow:5000'}\n", encoding="utf-8")
    code, stdout, stderr = compile_(str(path), "--target", "kubeflow", "--out", str(tmp_path / "b"))
    assert (code, stdout) == (0, "")
    assert "kubeflow: nothing to compile" in stderr and not (tmp_path / "b").exists()
