"""Same spec, same bytes: two compiles in fresh processes under different hash seeds."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPECS = sorted(f for f in os.listdir(os.path.join(ROOT, "specs")) if f.endswith(".yaml"))


def _compile(out, seed):
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    for spec in SPECS:
        proc = subprocess.run([sys.executable, "-m", "mlopsc", "compile", os.path.join("specs", spec), "--target",
                               "all", "--out", os.path.join(out, spec)], cwd=ROOT, env=env, capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stderr
    tree = {}
    for root, _, names in os.walk(out):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                tree[os.path.relpath(path, out)] = fh.read()
    return tree


@pytest.mark.slow
def test_compile_is_byte_identical_across_hash_seeds(tmp_path):
    first = _compile(str(tmp_path / "a"), 1)
    second = _compile(str(tmp_path / "b"), 4242)
    assert first == second
    for path, data in first.items():
        assert b"\r\n" not in data, path
        assert str(tmp_path).encode() not in data and ROOT.encode() not in data, f"absolute path in {path}"
