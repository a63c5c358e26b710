"""Typed target settings: a compile or `submit --dry-run` for a cloud target whose required
settings the spec does not give fails with E703 at the right line, naming each setting; the
Settings dataclasses agree with the schema's `targets` block."""

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlopsc import api, targets
from mlopsc.cli import cli
from mlopsc.schema import schema
from mlopsc.target_settings import parse_settings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REQUIRED = {"sagemaker": ["region", "role", "bucket"], "vertex": ["project", "region", "pipeline_root"]}


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def _spec_without(tmp_path, target):
    """specs/churn.yaml with `targets.<target>` removed (other targets kept)."""
    with open(os.path.join(ROOT, "specs", "churn.yaml"), encoding="utf-8") as fh:
        lines = fh.read().splitlines(keepends=True)
    start = lines.index(f"  {target}:\n")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("    "))
    path = tmp_path / "spec.yaml"
    path.write_text("".join(lines[:start] + lines[end:]), encoding="utf-8")
    targets_line = next(i for i, line in enumerate(lines[:start] + lines[end:]) if line == "targets:\n") + 1
    return str(path), targets_line


@pytest.mark.parametrize("target", sorted(REQUIRED))
def test_compile_without_a_targets_block_is_e703_at_line_one(at_root, target):
    result = api.compile_spec("specs/churn-local.yaml", [target])
    assert not result.ok and not result.bundles
    (d,) = result.diagnostics
    assert (d.file, d.line, d.col, d.code, d.severity) == ("specs/churn-local.yaml", 1, 1, "E703", "error")
    for name in REQUIRED[target]:
        assert f"`targets.{target}.{name}`" in d.message
        assert f"{name}: " in d.hint
    assert d.hint.startswith(f"add to the spec: `targets: {{{target}: {{")


@pytest.mark.parametrize("target", sorted(REQUIRED))
def test_compile_with_other_targets_only_is_e703_at_the_targets_key(tmp_path, target):
    path, targets_line = _spec_without(tmp_path, target)
    result = api.compile_spec(path, [target])
    (d,) = [d for d in result.diagnostics if d.severity == "error"]
    assert (d.line, d.col, d.code) == (targets_line, 1, "E703")
    assert f"target `{target}` needs `targets.{target}.{REQUIRED[target][0]}`" in d.message
    assert api.compile_spec(path, ["kubeflow"]).ok  # only the target compiled needs its settings


def test_a_missing_setting_in_a_present_block_is_located_at_its_key(at_root):
    @dataclass(frozen=True)
    class NeedsSecretStore:
        secret_store: str
        namespace: str = "default"

    project = api.load_project("specs/churn.yaml")
    found, (d,) = parse_settings(project, "kubeflow", NeedsSecretStore)
    assert found is None
    block = project.targets.block("kubeflow")
    assert (d.line, d.col) == (block.span.line, block.span.col) == (146, 3)
    assert "`targets.kubeflow.secret_store`" in d.message and "secret_store: <value>" in d.hint


@pytest.mark.parametrize("target", sorted(REQUIRED))
def test_submit_dry_run_never_invents_settings(at_root, target):
    result = CliRunner().invoke(cli, ["submit", "specs/churn-local.yaml", "--target", target, "--dry-run"])
    assert result.exit_code == 1, result.output
    assert f"specs/churn-local.yaml:1:1: error[E703]: target `{target}` needs `targets.{target}." in result.output
    for invented in ("000000000000", "mlopsc-undefined", "projects/None", "-artifacts\""):
        assert invented not in result.output


def test_submit_for_a_target_without_a_submitter_says_so(at_root):
    result = CliRunner().invoke(cli, ["submit", "specs/churn-local.yaml", "--target", "local", "--dry-run"])
    assert result.exit_code == 2 and "target `local` has nothing to submit to" in result.output


def test_settings_are_parsed_typed(at_root):
    project = api.load_project("specs/churn.yaml")
    sagemaker, problems = targets.get("sagemaker").settings(project)
    assert problems == [] and sagemaker.role.startswith("arn:aws:iam::") and not sagemaker.bucket.endswith("/")
    local, _ = targets.get("local").settings(api.load_project("specs/churn-local.yaml"))
    assert (local.port, local.tracking_uri) == (8080, "sqlite:///.mlopsc/mlflow.db")


@pytest.mark.parametrize("name", ["kubeflow", "local", "sagemaker", "vertex"])
def test_settings_dataclass_agrees_with_the_schema(name):
    """Same keys, the schema's `required` are exactly the fields without a default, and every
    schema `default` is the field's default."""
    block = schema()["properties"]["targets"]["properties"][name]
    fields = {f.name: f for f in dataclasses.fields(_settings_class(name))}
    assert sorted(fields) == sorted(block["properties"])
    required = sorted(n for n, f in fields.items()
                      if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    assert required == sorted(block.get("required", []))
    for key, prop in block["properties"].items():
        if "default" in prop:
            assert fields[key].default == prop["default"], key


def _settings_class(name):
    module = __import__(f"mlopsc.targets.{name}.settings", fromlist=["Settings"])
    return module.Settings


def test_target_all_compiles_the_targets_the_spec_configures(at_root, tmp_path):
    # churn-local with a shared tracking store, so that Kubeflow (no required settings) compiles too
    text = (Path(ROOT) / "specs" / "churn-local.yaml").read_text(encoding="utf-8")
    shared = tmp_path / "shared.yaml"
    shared.write_text(text.replace("tracking:\n", "tracking:\n  uri: ${env:MLFLOW_TRACKING_URI}\n", 1),
                      encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["compile", str(shared), "--target", "all", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == ["kubeflow", "local"]
    assert "skipped sagemaker, vertex: the spec does not give the `targets.<name>` settings" in result.output
    assert targets.configured("specs/churn.yaml") == ["kubeflow", "local", "sagemaker", "vertex"]


def test_target_all_skips_cloud_targets_for_a_spec_with_a_local_tracking_store(at_root, tmp_path):
    """churn-local keeps the embedded SQLite store, which steps in separate containers could not
    share: `--target all` compiles the local target only, and `--target kubeflow` says why (E701)."""
    assert targets.configured("specs/churn-local.yaml") == ["local"]
    result = CliRunner().invoke(cli, ["compile", "specs/churn-local.yaml", "--target", "all", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert os.listdir(tmp_path) == ["local"]
    assert "skipped kubeflow, sagemaker, vertex: the spec does not give the `targets.<name>` settings or the " \
           "shared `tracking.uri` they need" in result.output
    one = CliRunner().invoke(cli, ["compile", "specs/churn-local.yaml", "--target", "kubeflow", "--out",
                                   str(tmp_path / "kf")])
    assert one.exit_code == 1
    assert "specs/churn-local.yaml:66:3: error[E701]: target `kubeflow` cannot express the default tracking store" \
        in one.output and "${env:MLFLOW_TRACKING_URI}" in one.output
    assert not (tmp_path / "kf").exists()


@pytest.mark.parametrize("name", targets.names())
def test_needs_shared_tracking_says_which_targets_reject_a_local_store(name, tmp_path):
    text = (Path(ROOT) / "specs" / "churn.yaml").read_text(encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(text.replace("uri: ${env:MLFLOW_TRACKING_URI}", "uri: sqlite:///mlflow.db", 1), encoding="utf-8")
    codes = [d.code for d in targets.get(name).compile(api.load_project(str(spec)))[1]]
    assert ("E701" in codes) is targets.get(name).needs_shared_tracking
