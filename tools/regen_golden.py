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


def invalid_specs() -> list[str]:
    spec_dir = os.path.join(ROOT, "specs", "invalid")
    return sorted(f for f in os.listdir(spec_dir) if f.endswith(".yaml"))


def diagnostics_for_invalid(spec: str) -> str:
    """`mlopsc validate` text output for specs/invalid/<spec>, paths as seen from the root."""
    from mlopsc.diagnostics import render

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return render(api.validate(os.path.join("specs", "invalid", spec)), "text")
    finally:
        os.chdir(cwd)


def main() -> int:
    for spec in invalid_specs():
        expected = os.path.join(ROOT, "specs", "invalid", spec.removesuffix(".yaml") + ".expected")
        with open(expected, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(diagnostics_for_invalid(spec))
    print(f"wrote {len(invalid_specs())} specs/invalid/*.expected")
    golden = os.path.join(ROOT, "golden")
    for spec in golden_specs():
        result = compile_for_golden(spec)
        if not result.ok:
            print("\n".join(d.text() for d in result.diagnostics), file=sys.stderr)
            return 1
        out = os.path.join(golden, spec.removesuffix(".yaml"))
        for target in targets.names():  # each target's folder is replaced whole
            shutil.rmtree(os.path.join(out, target), ignore_errors=True)
        api.write(result, out)
        print(f"wrote {os.path.relpath(out, ROOT)}/ ({', '.join(sorted(result.bundles))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
