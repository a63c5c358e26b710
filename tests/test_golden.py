"""Compiled output for every example spec equals the pinned golden files, byte for byte: each
target's bundle in golden/<spec>/<target>/, or golden/<spec>/<target>.errors (the diagnostics) for
a target that cannot compile the spec, e.g. a cloud target whose settings the spec does not give.

Regenerate with `python tools/regen_golden.py` after an intended change and review the diff.
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from regen_golden import golden_files, golden_specs


def _read_tree(path):
    found = {}
    for root, _, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            with open(full, "rb") as fh:
                found[os.path.relpath(full, path).replace(os.sep, "/")] = fh.read()
    return found


@pytest.mark.parametrize("spec", golden_specs())
def test_compiled_output_matches_golden(spec):
    expected = _read_tree(os.path.join(ROOT, "golden", spec.removesuffix(".yaml")))
    actual = {path: text.encode("utf-8") for path, text in golden_files(spec).items()}
    assert sorted(actual) == sorted(expected), "file set differs; run python tools/regen_golden.py"
    for path in sorted(actual):
        assert actual[path] == expected[path], f"{path} differs from golden; run python tools/regen_golden.py"


def test_a_target_without_its_settings_is_pinned_as_its_errors():
    """churn-local has no `targets:` block: the cloud targets fail with E703 instead of writing
    `projects/None` or a placeholder role (the bug the .errors goldens replaced). Kubeflow needs
    no settings, but churn-local keeps the embedded SQLite tracking store, which steps in separate
    pods cannot share: E701 at the tracking section."""
    files = golden_files("churn-local.yaml")
    assert sorted(p for p in files if p.endswith(".errors")) == ["kubeflow.errors", "sagemaker.errors",
                                                                  "vertex.errors"]
    assert "error[E703]: target `vertex` needs `targets.vertex.project`" in files["vertex.errors"]
    assert "error[E703]: target `sagemaker` needs `targets.sagemaker.region`" in files["sagemaker.errors"]
    assert "specs/churn-local.yaml:66:3: error[E701]: target `kubeflow` cannot express the default tracking " \
           "store" in files["kubeflow.errors"]
    assert any(p.startswith("local/") for p in files)
