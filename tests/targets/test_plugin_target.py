"""A target from another distribution: one package and one `mlopsc.targets` entry point are all
it takes (it declares no required settings, so it needs no `targets` block in the schema)."""

import importlib
import os
import sys
import textwrap

import pytest
from click.testing import CliRunner
from mlopsc import api, targets
from mlopsc.cli import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TINY = '''
"""A tiny target: one text file per pipeline, listing its steps."""

from dataclasses import dataclass

from mlopsc.target_settings import parse_settings
from mlopsc.targets.base import OutputFile, Target, note


@dataclass(frozen=True)
class Settings:
    greeting: str = "steps of"


class TinyTarget(Target):
    name = "tiny"
    summary = "one text file per pipeline"
    capabilities = {"train pipeline": "a list of steps"}
    runtime_platform = "tiny_target:Platform"

    def settings(self, project):
        return parse_settings(project, self.name, Settings)

    def unsupported(self, project):
        return [note(self.name, project.span, "nothing runs: tiny only lists steps")]

    def files(self, project):
        s, _ = self.settings(project)
        return [OutputFile(f"{p.name}.txt", f"{s.greeting} {p.name}: " + " ".join(st.name for st in p.steps) + "\\n")
                for p in project.pipelines]
'''


@pytest.fixture
def tiny_installed(tmp_path, monkeypatch):
    """`tiny_target` and its dist-info (the entry point) on sys.path, as `pip install` leaves them."""
    (tmp_path / "tiny_target").mkdir()
    (tmp_path / "tiny_target" / "__init__.py").write_text(textwrap.dedent(TINY), encoding="utf-8")
    info = tmp_path / "tiny_target-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-target\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[mlopsc.targets]\ntiny = tiny_target:TinyTarget\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    targets.refresh()
    yield
    sys.modules.pop("tiny_target", None)
    targets.refresh()


def test_an_entry_point_target_compiles_through_the_api(tiny_installed, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert "tiny" in targets.names() and targets.exists("tiny")
    result = api.compile_spec("specs/churn-local.yaml", ["tiny"])
    assert result.ok, [d.text() for d in result.diagnostics]
    files = result.bundles["tiny"]
    assert files["train.txt"].startswith("steps of train: resolve-data validate-data ")
    assert sorted(files) == ["README.md", "deploy.txt", "manifest.json", "monitor.txt", "train.txt"]
    assert [d.code for d in result.diagnostics] == ["W702"]


def test_an_entry_point_target_is_listed_and_compiled_by_the_cli(tiny_installed, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    listed = CliRunner().invoke(cli, ["targets"])
    assert listed.exit_code == 0 and "tiny       one text file per pipeline" in listed.output
    out = tmp_path / "out"
    compiled = CliRunner().invoke(cli, ["compile", "specs/churn-local.yaml", "--target", "tiny", "--out", str(out)])
    assert compiled.exit_code == 0, compiled.output
    assert (out / "tiny" / "train.txt").read_text(encoding="utf-8").startswith("steps of train:")
    submitted = CliRunner().invoke(cli, ["submit", "specs/churn-local.yaml", "--target", "tiny", "--dry-run"])
    assert submitted.exit_code == 2 and "target `tiny` cannot submit" in submitted.output


def test_an_unknown_target_names_the_registered_ones():
    with pytest.raises(targets.UnknownTarget, match="registered: kubeflow, local, sagemaker, vertex"):
        targets.get("airflow")


def test_builtins_are_declared_as_entry_points():
    """pyproject.toml declares every shipped target in the group; `BUILTIN`, the registry's fast
    path, repeats some of them with the same values, and the installed metadata has them all."""
    import tomllib
    from importlib.metadata import entry_points

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        declared = tomllib.load(fh)["project"]["entry-points"]["mlopsc.targets"]
    assert targets.BUILTIN.items() <= declared.items()
    assert sorted(declared) == ["kubeflow", "local", "sagemaker", "vertex"]
    installed = {ep.name: ep.value for ep in entry_points(group=targets.GROUP)}
    assert declared.items() <= installed.items(), "reinstall: pip install -e ."


def test_every_builtin_has_the_same_shape():
    for name in targets.BUILTIN:
        target = targets.get(name)
        package = f"mlopsc.targets.{name}"
        for module in ("settings", "unsupported", "target", "submit"):
            importlib.import_module(f"{package}.{module}")
        assert target.runtime_platform == f"mlopsc.runtime.platforms.{name}:Platform"
        assert target.submitter == f"{package}.submit:submit"
        assert target.settings.__func__ is not targets.Target.settings
