"""Compiled output for every example spec equals the pinned golden files, byte for byte.

Regenerate with `python tools/regen_golden.py` after an intended change and review the diff.
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from regen_golden import compile_for_golden, golden_specs


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
    result = compile_for_golden(spec)
    assert result.ok, [d.text() for d in result.diagnostics]
    expected = _read_tree(os.path.join(ROOT, "golden", spec.removesuffix(".yaml")))
    actual = {
        f"{target}/{path}": text.encode("utf-8")
        for target, files in result.bundles.items()
        for path, text in files.items()
    }
    assert sorted(actual) == sorted(expected), "file set differs; run python tools/regen_golden.py"
    for path in sorted(actual):
        assert actual[path] == expected[path], f"{path} differs from golden; run python tools/regen_golden.py"
