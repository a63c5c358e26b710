"""The CLI: exit codes, formats, atomic output and --check."""

import json
import os

import pytest
from click.testing import CliRunner
from mlopsc import api, bundle
from mlopsc.cli import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHURN = os.path.join(ROOT, "specs", "churn.yaml")
BAD = os.path.join(ROOT, "specs", "invalid", "unknown-key.yaml")


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_validate_ok_and_invalid_exit_codes():
    assert run("validate", CHURN).exit_code == 0
    result = run("validate", CHURN, BAD)
    assert result.exit_code == 1
    assert "error[E201]" in result.output and "did you mean `hyperparameters`?" in result.output


def test_json_and_github_formats():
    data = json.loads(run("validate", "--format", "json", BAD).stdout)
    assert [d["code"] for d in data] == ["E201", "E201", "E201"]
    assert data[0]["line"] == 5 and data[0]["hint"] == "did you mean `hyperparameters`?"
    lines = run("validate", "--format", "github", BAD).stdout.splitlines()
    assert lines[0].startswith("::error file=") and ",line=5,col=3,title=E201::" in lines[0]


@pytest.mark.parametrize("args", [["validate"], ["compile", CHURN, "--target", "nope"], ["validate", "--format",
                                                                                        "xml", CHURN], ["frobnicate"]])
def test_usage_errors_exit_2(args):
    assert run(*args).exit_code == 2


def test_missing_file_is_a_located_error_not_a_traceback(tmp_path):
    result = run("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1 and "error[E901]: file not found" in result.output


def test_schema_command_prints_the_schema():
    schema = json.loads(run("schema").stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_failed_compile_leaves_earlier_output_untouched(tmp_path):
    out = tmp_path / "out"
    (out / "kubeflow").mkdir(parents=True)
    (out / "kubeflow" / "train.yaml").write_text("earlier output\n")
    result = run("compile", BAD, "--target", "all", "--out", str(out))
    assert result.exit_code == 1
    assert (out / "kubeflow" / "train.yaml").read_text() == "earlier output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left behind


def test_write_replaces_whole_bundle_and_stages_nothing(tmp_path):
    target = tmp_path / "out" / "demo"
    target.mkdir(parents=True)
    (target / "stale.txt").write_text("old")
    bundle.write_atomically({str(target): {"a.yaml": "a: 1\n", "sub/b.json": "{}\n"}})
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == ["a.yaml", "sub/b.json"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["demo"]


def test_write_failure_keeps_previous_bundle(tmp_path, monkeypatch):
    target = tmp_path / "demo"
    target.mkdir()
    (target / "keep.txt").write_text("previous")

    def broken_swap(new, dest):
        raise OSError("disk full")

    monkeypatch.setattr(bundle, "_swap", broken_swap)
    with pytest.raises(OSError):
        bundle.write_atomically({str(target): {"a.yaml": "a: 1\n"}})
    assert (target / "keep.txt").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_stale_files_names_changed_missing_and_extra(tmp_path):
    (tmp_path / "same.txt").write_text("x")
    (tmp_path / "changed.txt").write_text("old")
    (tmp_path / "extra.txt").write_text("gone")
    stale = bundle.stale_files(str(tmp_path), {"same.txt": "x", "changed.txt": "new", "missing.txt": "m"})
    assert stale == ["changed.txt", "extra.txt", "missing.txt"]


def test_check_flag_round_trip(tmp_path):
    out = tmp_path / "build"
    assert run("compile", CHURN, "--target", "all", "--out", str(out)).exit_code == 0
    assert run("compile", CHURN, "--target", "all", "--out", str(out), "--check").exit_code == 0
    written = sorted(p for p in out.rglob("*") if p.is_file())
    if written:  # once targets are registered, editing one file must be caught
        written[0].write_text("edited\n")
        result = run("compile", CHURN, "--target", "all", "--out", str(out), "--check")
        assert result.exit_code == 1
        assert str(written[0].relative_to(out)) in result.output


def test_compile_result_api_is_in_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = api.compile_spec(CHURN, [])
    assert result.ok and result.bundles == {}
    assert list(tmp_path.iterdir()) == []


def test_a_bundle_already_up_to_date_is_left_untouched(tmp_path):
    """A second compile of the same spec rewrites nothing (mtimes kept for build tools and file
    watchers); a bundle with a changed, missing or extra file is replaced whole."""
    out = tmp_path / "build"
    first = run("compile", CHURN, "--target", "all", "--out", str(out))
    assert first.exit_code == 0 and first.stdout.count("wrote ") == 4
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = run("compile", CHURN, "--target", "all", "--out", str(out))
    assert again.exit_code == 0 and again.stdout.count("unchanged ") == 4 and "wrote" not in again.stdout
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    (out / "vertex" / "extra.txt").write_text("not generated")
    third = run("compile", CHURN, "--target", "all", "--out", str(out))
    assert f"wrote {out / 'vertex'}/" in third.stdout and third.stdout.count("unchanged ") == 3
    assert not (out / "vertex" / "extra.txt").exists()
    assert run("compile", CHURN, "--target", "all", "--out", str(out), "--check").exit_code == 0
