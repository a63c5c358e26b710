"""Each broken spec in specs/invalid/ gives exactly its pinned diagnostics, and exit 1."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from regen_golden import diagnostics_for_invalid, invalid_specs


@pytest.mark.parametrize("spec", invalid_specs())
def test_pinned_diagnostics(spec):
    with open(os.path.join(ROOT, "specs", "invalid", spec.removesuffix(".yaml") + ".expected"), encoding="utf-8") as fh:
        expected = fh.read()
    assert expected.strip(), "an invalid spec must pin at least one diagnostic"
    assert diagnostics_for_invalid(spec) == expected


def test_cli_exit_codes_for_every_invalid_spec():
    paths = [os.path.join("specs", "invalid", s) for s in invalid_specs()]
    for path in paths:
        proc = subprocess.run([sys.executable, "-m", "mlopsc", "validate", path], cwd=ROOT,
                              capture_output=True, text=True)
        assert proc.returncode == 1, (path, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        with open(os.path.join(ROOT, path.removesuffix(".yaml") + ".expected"), encoding="utf-8") as fh:
            assert proc.stdout == fh.read()


def test_examples_are_valid():
    specs = sorted(os.path.join("specs", f) for f in os.listdir(os.path.join(ROOT, "specs")) if f.endswith(".yaml"))
    proc = subprocess.run([sys.executable, "-m", "mlopsc", "validate", *specs], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert f"ok: {len(specs)} spec(s) valid" in proc.stderr


def test_every_error_code_is_pinned_somewhere():
    pinned = "".join(diagnostics_for_invalid(s) for s in invalid_specs())
    for code in ["E101", "E102", "E105", "E106", "E108", "E109", "E201", "E202", "E203", "E204", "E205", "E206",
                 "E301", "E302", "E303", "E304", "E401", "E402", "E403", "E404", "E405", "E406", "E501", "E502",
                 "E601", "E602", "E603", "E604", "E620", "E621", "E622", "E623", "E624", "E625", "E626", "E627",
                 "E628", "E629"]:
        assert f"error[{code}]" in pinned, code
