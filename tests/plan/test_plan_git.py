"""`mlopsc plan` against git: merge base with the default branch, explicit revisions and files,
and the three errors (not a git repository, unknown revision, a base spec that does not parse)."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from click.testing import CliRunner
from mlopsc.commands_review import plan_command
from plan_fixtures import fixture_text

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


def git(repo, *args) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def write(repo, text, name="mlops.yaml"):
    with open(os.path.join(repo, name), "w", encoding="utf-8") as fh:
        fh.write(text)


def commit(repo, message):
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """main: the churn spec; feature (checked out): branched from main, main moved on since."""
    path = str(tmp_path / "repo")
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    spec = fixture_text("churn.yaml")
    write(path, spec)
    commit(path, "spec")
    git(path, "checkout", "-q", "-b", "feature")
    write(path, spec.replace("lr: 0.001", "lr: 0.003"))
    commit(path, "feature: learning rate")
    git(path, "checkout", "-q", "main")
    write(path, spec.replace("budget_monthly_usd: 8000", "budget_monthly_usd: 9000"))
    commit(path, "main: budget")  # not part of the feature branch: must not show in its plan
    git(path, "checkout", "-q", "feature")
    monkeypatch.chdir(path)
    return path


def run(*args):
    result = CliRunner().invoke(plan_command, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_default_base_is_the_merge_base_with_main(repo):
    code, out, err = run("--format", "json")
    assert code == 0, err
    plan = json.loads(out)
    merge_base = git(repo, "merge-base", "HEAD", "main")
    assert plan["base"]["label"] == f"main (merge base {merge_base[:7]})"
    assert [(c["path"], c["line"], c["consequence"]) for c in plan["changes"]] == [
        ("training.hyperparameters.lr", 55, "retrain, re-evaluate")]


def test_uncommitted_changes_are_planned(repo):
    write(repo, fixture_text("churn.yaml").replace("lr: 0.001", "lr: 0.003").replace("ttl: 30d", "ttl: 7d"))
    code, out, _ = run()
    assert code == 0
    assert "mlops.yaml:46:12: features.views.customer_activity.ttl: 30d -> 7d" in out
    assert "runs needed: revalidate, retrain, re-evaluate" in out


def test_origin_head_names_the_default_branch(repo):
    trunk = git(repo, "rev-parse", "feature~1")
    git(repo, "update-ref", "refs/remotes/origin/trunk", trunk)
    git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    code, out, _ = run()
    assert code == 0
    assert out.startswith(f"mlopsc plan: mlops.yaml against origin/trunk (merge base {trunk[:7]})\n")


def test_master_is_the_fallback(repo):
    git(repo, "branch", "-m", "main", "master")
    code, out, _ = run()
    assert code == 0 and "against master (merge base" in out


def test_explicit_revision_and_file(repo):
    code, out, _ = run("--base", "main")
    assert code == 0
    assert "cost.budget_monthly_usd: 9000 -> 8000" in out and "training.hyperparameters.lr" in out
    write(repo, fixture_text("churn.yaml").replace("threshold: 0.2", "threshold: 0.5"), "old.yaml")
    code, out, _ = run("--base", "old.yaml")
    assert code == 0
    assert out.startswith("mlopsc plan: mlops.yaml against old.yaml\n")
    assert "monitoring.drift.threshold: 0.5 -> 0.2" in out


def test_spec_added_on_the_branch(repo):
    os.makedirs("team")
    write(repo, fixture_text("support.yaml"), "team/mlops.yaml")
    commit(repo, "second project")
    code, out, _ = run("team/mlops.yaml", "--format", "markdown")
    assert code == 0
    assert "The spec does not exist there: everything is new." in out


def test_spec_in_a_subdirectory_is_found_by_path(repo):
    os.makedirs("sub")
    git(repo, "mv", "mlops.yaml", "sub/mlops.yaml")
    commit(repo, "move")
    os.chdir("sub")
    code, out, _ = run("mlops.yaml", "--base", "HEAD")
    assert code == 0 and "no changes to the spec's meaning" in out


# ------------------------------------------------------------------ the three errors

DIAG = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>E\d+)\]: (?P<msg>.+)$", re.MULTILINE)


def test_not_a_git_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    write(str(tmp_path), fixture_text("churn.yaml"))
    code, out, err = run()
    assert code == 2 and out == ""
    diag = DIAG.search(err)
    assert diag and diag["file"] == "mlops.yaml" and diag["code"] == "E910"
    assert "is not in a git repository" in diag["msg"]
    assert "hint: " in err and "--base" in err


def test_base_revision_that_does_not_exist(repo):
    code, out, err = run("--base", "no-such-branch")
    assert code == 2 and out == ""
    diag = DIAG.search(err)
    assert diag and diag["code"] == "E911"
    assert "`no-such-branch` is neither a file nor a revision" in diag["msg"]
    assert "fetch-depth: 0" in err


def test_base_spec_that_no_longer_parses(repo):
    git(repo, "checkout", "-q", "main")
    write(repo, "apiVersion: mlopsc/v1\nname: churn\ntraining: [unclosed\n")
    bad = commit(repo, "broken spec")
    git(repo, "checkout", "-q", "feature")
    code, out, err = run("--base", "main")
    assert code == 1 and out == ""
    diag = DIAG.search(err)
    assert diag and diag["file"] == f"mlops.yaml@{bad[:7]}" and diag["code"] == "E101"
    assert f"cannot plan: the base spec from main ({bad[:7]}) no longer parses or validates" in err


def test_base_spec_that_no_longer_validates(repo):
    write(repo, "apiVersion: mlopsc/v1\nname: churn\ntrainig: {}\n", "old.yaml")
    code, _, err = run("--base", "old.yaml")
    assert code == 1
    assert re.search(r"^old\.yaml:3:1: error\[E2\d\d\]: .*trainig", err, re.MULTILINE), err
    assert "the base spec from old.yaml no longer parses" in err


def test_working_spec_that_does_not_parse(repo):
    write(repo, "name: [\n")
    code, _, err = run()
    assert code == 1
    assert DIAG.search(err)["file"] == "mlops.yaml"
    assert "cannot plan: the working spec is invalid" in err


def test_missing_working_spec(repo):
    code, _, err = run("nope.yaml")
    assert code == 2 and "nope.yaml:1:1: error[E901]: file not found" in err


def test_repository_without_commits(tmp_path, monkeypatch):
    git(str(tmp_path), "init", "-q", "-b", "main")
    write(str(tmp_path), fixture_text("churn.yaml"))
    monkeypatch.chdir(tmp_path)
    code, _, err = run()
    assert code == 2 and "error[E91" in err
