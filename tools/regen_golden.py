"""Regenerate golden/<spec>/<target>/ for every spec in specs/ and every target: the one command.

    python tools/regen_golden.py

Run from the repository root; tests/test_golden.py compares byte for byte, file names included.
"""

from __future__ import annotations

import os
import shutil
import sys

from mlopsc import api, targets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def golden_specs() -> list[str]:
    spec_dir = os.path.join(ROOT, "specs")
    return sorted(f for f in os.listdir(spec_dir) if f.endswith(".yaml"))


def compile_for_golden(spec: str):
    """Compile specs/<spec> for every target, with paths as seen from the repository root."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return api.compile_spec(os.path.join("specs", spec), targets.names())
    finally:
        os.chdir(cwd)


def main() -> int:
    golden = os.path.join(ROOT, "golden")
    for spec in golden_specs():
        result = compile_for_golden(spec)
        if not result.ok:
            print("\n".join(d.text() for d in result.diagnostics), file=sys.stderr)
            return 1
        out = os.path.join(golden, spec.removesuffix(".yaml"))
        shutil.rmtree(out, ignore_errors=True)
        api.write(result, out)
        print(f"wrote {os.path.relpath(out, ROOT)}/ ({', '.join(sorted(result.bundles))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
