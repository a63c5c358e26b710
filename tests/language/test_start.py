"""The start-up fast path (`mlopsc.start`): plain `validate` and `compile` run without importing
click, and print the same bytes with the same exit codes as the click command line; anything
else goes to click."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from mlopsc import diagnostics, start

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHURN = os.path.join("specs", "churn.yaml")
BAD = os.path.join("specs", "invalid", "unknown-key.yaml")
CLICK = "import sys\nfrom mlopsc.cli import main\nsys.argv[0] = 'mlopsc'\nmain()"
ENV = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


def both(*args, cwd=ROOT, out=None):
    """(fast path, click path): each (exit code, stdout, stderr), and whether the first imported click.
    `out`: the output folder, removed between the two (else the second finds it up to date)."""
    fast = subprocess.run([sys.executable, "-X", "importtime", "-m", "mlopsc", *args], cwd=cwd, capture_output=True,
                          text=True, env=ENV, check=False)
    if out is not None:
        shutil.rmtree(out, ignore_errors=True)
    slow = subprocess.run([sys.executable, "-c", CLICK, *args], cwd=cwd, capture_output=True, text=True, env=ENV,
                          check=False)
    imported = {line.split("|")[-1].strip() for line in fast.stderr.splitlines() if line.startswith("import time:")}
    stderr = "".join(line + "\n" for line in fast.stderr.splitlines() if not line.startswith("import time:"))
    return (fast.returncode, fast.stdout, stderr), (slow.returncode, slow.stdout, slow.stderr), "click" in imported


@pytest.mark.parametrize("args", [
    ("validate", CHURN),
    ("validate", CHURN, BAD),
    ("validate", "--format", "json", BAD),
    ("validate", BAD, "--format=github"),
    ("validate", "specs/no-such-file.yaml"),
])
def test_validate_without_click_prints_what_click_prints(args):
    fast, slow, used_click = both(*args)
    assert fast == slow and not used_click


@pytest.mark.parametrize("extra", [(), ("--format", "json"), ("--strict",), ("-t", "kubeflow")])
def test_compile_without_click_writes_and_prints_what_click_does(tmp_path, extra):
    target = () if "-t" in extra else ("--target", "all")
    fast, slow, used_click = both("compile", CHURN, *target, *extra, "-o", str(tmp_path / "out"), out=tmp_path / "out")
    assert fast == slow and fast[0] == 0 and "wrote" in fast[1] and not used_click
    fast, slow, used_click = both("compile", BAD, "--target", "all", "--out", str(tmp_path / "bad"))
    assert fast == slow and fast[0] == 1 and not used_click


def test_compile_check_without_click_reports_staleness_as_click_does(tmp_path):
    out = str(tmp_path / "out")
    subprocess.run([sys.executable, "-m", "mlopsc", "compile", CHURN, "--target", "local", "--out", out], cwd=ROOT,
                   capture_output=True, check=True, env=ENV)
    fast, slow, used_click = both("compile", CHURN, "--target", "local", "--out", out, "--check")
    assert fast == slow and fast[0] == 0 and "up to date: local" in fast[1] and not used_click
    for path in (tmp_path / "out" / "local").rglob("*.json"):
        path.write_text("{}")
        break
    fast, slow, used_click = both("compile", CHURN, "--target", "local", "--out", out, "--check")
    assert fast == slow and fast[0] == 1 and "stale compiled output" in fast[2] and not used_click


@pytest.mark.parametrize("args", [
    ("compile", CHURN, "--target", "nope"),  # a usage error is click's (exit 2)
    ("compile", CHURN),  # --target missing
    ("validate",),
    ("validate", "specs"),  # a directory
    ("validate", CHURN, "--format", "yaml"),
    ("validate", "--help"),
    ("compile", CHURN, "--target", "all", "--out", CHURN),  # --out is a file
])
def test_anything_else_is_clicks_with_its_output(args, tmp_path):
    fast, slow, used_click = both(*args)
    assert fast == slow and used_click and (fast[0] != 0) == ("--help" not in args)


def test_what_the_fast_path_takes():
    assert start.plain_validate(["a.yaml", "b.yaml", "--format", "json"]) == {"files": ["a.yaml", "b.yaml"],
                                                                              "fmt": "json"}
    assert start.plain_validate(["a.yaml", "--format", "json", "--format", "text"]) is None
    assert start.plain_validate(["-"]) is None
    assert start.plain_compile(["a.yaml", "-t", "vertex", "--check", "--out=o"]) == {
        "file": "a.yaml", "target": "vertex", "out_dir": "o", "check": True, "strict": False, "fmt": "text"}
    assert start.plain_compile(["a.yaml", "b.yaml", "-t", "vertex"]) is None
    assert start.plain_compile(["a.yaml", "-t", "vertex", "--check", "--check"]) is None
    assert start.plain_compile(["a.yaml", "-t", "--strict"]) is None
    assert start.plain_compile(["a.yaml", "-tvertex"]) is None


def test_shell_completion_is_clicks(monkeypatch):
    monkeypatch.setenv("_MLOPSC_COMPLETE", "bash_source")
    assert start.fast_command(["validate", CHURN]) is None


def test_the_fast_path_knows_the_formats_the_cli_offers():
    assert start.FORMATS == diagnostics.FORMATS


def test_the_console_script_starts_with_the_fast_path():
    text = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    assert 'mlopsc = "mlopsc.start:main"' in text
    out = subprocess.run([sys.executable, "-m", "mlopsc", "validate", "--format", "json", CHURN], cwd=ROOT,
                         capture_output=True, text=True, env=ENV, check=False)
    assert out.returncode == 0 and json.loads(out.stdout) == [] and out.stderr == ""


def imported_by(*args, cwd=ROOT) -> set[str]:
    """The modules a fast-path run imported (from -X importtime), after checking it succeeded."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "mlopsc", *args], cwd=cwd, capture_output=True,
                         text=True, env=ENV, check=False)
    assert run.returncode == 0, run.stderr
    return {line.split("|")[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}


# What the fast path leaves out of start-up, each for a measured cost (README, Performance):
# typing (its names only annotate), OpenSSL's hashlib (CPython's own sha256 gives the same digests),
# inspect's ast/dis/tokenize (dataclasses imports inspect for docstrings our classes have), and,
# when no bundle changed, shutil and tempfile.
NOT_AT_START = {"typing", "hashlib", "ast", "dis", "tokenize", "click"}


def test_validate_and_compile_start_without_the_modules_they_do_not_use(tmp_path):
    assert not imported_by("validate", CHURN) & NOT_AT_START
    out = str(tmp_path / "out")
    first = imported_by("compile", CHURN, "--target", "all", "--out", out)
    assert not first & NOT_AT_START and {"shutil", "tempfile"} <= first  # it wrote the bundles
    again = imported_by("compile", CHURN, "--target", "all", "--out", out)
    assert not again & (NOT_AT_START | {"shutil", "tempfile"})  # nothing changed, nothing written


def test_a_deferred_inspect_loads_on_first_use():
    code = ("import sys\nfrom mlopsc.start import defer_inspect\ndefer_inspect()\n"
            "import dataclasses, inspect\nassert 'ast' not in sys.modules\n"
            "@dataclasses.dataclass\nclass A:\n    x: int\n"
            "from inspect import isclass\n"
            "print(A.__doc__, inspect.signature(A), isclass(A), sys.modules['inspect'].getmodulename('a/b.py'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, check=True)
    assert out.stdout.split() == ["A(x:", "int)", "(x:", "int)", "->", "None", "True", "b"]
