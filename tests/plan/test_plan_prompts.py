"""Prompt files are versioned artifacts in `mlopsc plan`: new content behind the same path is a
change (re-evaluate, redeploy) shown by content hash, read from the base revision through git."""

from __future__ import annotations

import hashlib
import json
import os

from click.testing import CliRunner
from mlopsc.commands_review import plan_command
from test_plan_git import commit, git, write

SPEC = """apiVersion: mlopsc/v1
name: assistant
llm:
  base_model: models/tiny
  prompts:
    system: prompts/system.md
"""


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_a_changed_prompt_file_is_a_located_change(tmp_path, monkeypatch):
    repo = str(tmp_path / "repo")
    os.makedirs(os.path.join(repo, "prompts"))
    git(repo, "init", "-q", "-b", "main")
    write(repo, SPEC)
    write(repo, "You are helpful.\n", "prompts/system.md")
    commit(repo, "spec and prompt")
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, "You are terse.\n", "prompts/system.md")
    commit(repo, "feature: terser prompt")
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(plan_command, ["mlops.yaml", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["stages"] == ["re-evaluate", "redeploy"]
    [change] = plan["changes"]
    assert (change["path"], change["line"], change["old"], change["new"]) == (
        "llm.prompts.system", 6, _sha("You are helpful.\n"), _sha("You are terse.\n"))


def test_an_unchanged_prompt_is_no_change(tmp_path, monkeypatch):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "system.md").write_text("same\n")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "prompts").mkdir()
    (tmp_path / "old" / "prompts" / "system.md").write_text("same\n")
    (tmp_path / "old" / "mlops.yaml").write_text(SPEC)
    (tmp_path / "mlops.yaml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(plan_command, ["mlops.yaml", "--base", "old/mlops.yaml", "--format", "json"],
                                catch_exceptions=False)
    assert json.loads(result.stdout)["changes"] == []
    (tmp_path / "prompts" / "system.md").write_text("changed\n")
    result = CliRunner().invoke(plan_command, ["mlops.yaml", "--base", "old/mlops.yaml", "--format", "json"],
                                catch_exceptions=False)
    assert [c["new"] for c in json.loads(result.stdout)["changes"]] == [_sha("changed\n")]
