"""The bodies of `mlopsc validate` and `mlopsc compile`, free of click: the click commands
(`cli.py`) and the start-up fast path (`start.py`) both run these, so the two print the same
bytes and exit with the same codes."""

from __future__ import annotations

import sys

from .diagnostics import render, summary

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class UnknownTarget(ValueError):
    """`--target` names no target; the click command reports it as a usage error (exit 2)."""


def echo(message: str = "", err: bool = False, nl: bool = True) -> None:
    """What `click.echo` does for text that holds no ANSI codes: write, newline, flush."""
    stream = sys.stderr if err else sys.stdout
    stream.write(message + "\n" if nl else message)
    stream.flush()


def report(diagnostics, fmt: str, files: int, quiet_ok: bool = False) -> None:
    text = render(diagnostics, fmt)
    if text:
        echo(text, nl=False)
    if fmt == "text" and not (quiet_ok and not diagnostics):
        echo(summary(diagnostics, files), err=True)


def validate_files(files: tuple[str, ...] | list[str], fmt: str) -> int:
    """Report every problem of the specs; the exit code."""
    from . import api

    diagnostics = [d for f in files for d in api.validate(f)]
    report(diagnostics, fmt, len(files))
    return EXIT_INVALID if any(d.severity == "error" for d in diagnostics) else EXIT_OK


def check_target(target: str) -> None:
    from mlopsc import targets

    if target != "all" and not targets.exists(target):  # exists() scans entry points only for a non-built-in
        raise UnknownTarget(f"unknown target `{target}`; choose from: all, {', '.join(targets.names())}")


def compile_file(file: str, target: str, out_dir: str, check: bool, strict: bool, fmt: str) -> int:
    """Compile `file` for one target (or all) into OUT/<target>/; the exit code (UnknownTarget first)."""
    from mlopsc import targets

    from . import api

    check_target(target)
    loaded = api.try_load_project(file)  # once, for choosing the targets and for compiling them
    if target != "all":
        names = [target]
    else:
        names = targets.names() if isinstance(loaded, api.SpecError) else targets.configured_for(loaded)
    skipped = [n for n in targets.names() if n not in names] if target == "all" else []
    if skipped:
        echo(f"skipped {', '.join(skipped)}: the spec does not give the `targets.<name>` settings or the "
             "shared `tracking.uri` they need (compile one with `--target <name>` to see which)", err=True)
    result = api.compile_spec(file, names, loaded)
    report(result.diagnostics, fmt, 1, quiet_ok=True)
    for name in result.empty:
        echo(f"{name}: nothing to compile (the spec has no part this target writes)", err=True)
    if not result.ok and (strict or target != "all" or not result.bundles):
        echo("nothing written: fix the errors above", err=True)
        return EXIT_INVALID
    if result.failed:  # --target all keeps going: the others are written, the exit code says it failed
        echo(f"failed: {', '.join(result.failed)} (see above); writing the others", err=True)
    if check:
        return check_written(result, file, target, out_dir)
    for directory, written in api.write(result, out_dir):
        echo(f"wrote {directory}/" if written else f"unchanged {directory}/")
    return EXIT_INVALID if result.failed else EXIT_OK


def check_written(result, file: str, target: str, out_dir: str) -> int:
    """`--check`: exit 1 when the committed output differs from what the compile gives."""
    from . import api

    stale = api.check_fresh(result, out_dir)
    if stale:
        echo(f"stale compiled output in {out_dir}/ (run `mlopsc compile {file} --target {target} "
             f"--out {out_dir}`):", err=True)
        for path in stale:
            echo(f"  {path}", err=True)
        return EXIT_INVALID
    echo(f"up to date: {', '.join(sorted(result.bundles))}")
    return EXIT_INVALID if result.failed else EXIT_OK
