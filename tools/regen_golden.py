"""Regenerate golden/<spec>/<target>/ for every spec in specs/ and every target: the one command.

    python tools/regen_golden.py

A target that cannot compile a spec (e.g. E703: the spec has no `targets.<target>` settings it
needs) gets `golden/<spec>/<target>.errors` instead, the `mlopsc compile` diagnostics text.
tests/test_golden.py compares both byte for byte, file names included.
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


def compile_for_golden(spec: str, target: str):
    """Compile specs/<spec> for one target, with paths as seen from the repository root."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return api.compile_spec(os.path.join("specs", spec), [target])
    finally:
        os.chdir(cwd)


def golden_files(spec: str) -> dict[str, str]:
    """Path under golden/<spec>/ -> text: each target's bundle, or `<target>.errors` when it fails."""
    from mlopsc.diagnostics import render

    found = {}
    for target in targets.names():
        result = compile_for_golden(spec, target)
        if not result.ok:
            found[f"{target}.errors"] = render(result.diagnostics, "text")
            continue
        found.update({f"{target}/{path}": text for path, text in result.bundles[target].items()})
    return found


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
        out = os.path.join(golden, spec.removesuffix(".yaml"))
        for target in targets.names():  # each target's folder (or .errors file) is replaced whole
            shutil.rmtree(os.path.join(out, target), ignore_errors=True)
            if os.path.exists(os.path.join(out, f"{target}.errors")):
                os.remove(os.path.join(out, f"{target}.errors"))
        files = golden_files(spec)
        for path, text in sorted(files.items()):
            full = os.path.join(out, *path.split("/"))
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        written = sorted({p.split("/")[0] for p in files})
        print(f"wrote {os.path.relpath(out, ROOT)}/ ({', '.join(written)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
