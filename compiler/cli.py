"""The `mlopsc` command line: option parsing only; the work happens in mlopsc.api."""

from __future__ import annotations

import sys

import click

from . import __version__
from .diagnostics import FORMATS, render, summary

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlopsc")
def cli() -> None:
    """Compile one mlops.yaml into native ML pipelines for Kubeflow, SageMaker, Vertex AI and local."""


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def validate(files: tuple[str, ...], fmt: str) -> None:
    """Check specs against the schema and the lifecycle rules; report every problem at its line."""
    from . import api

    diagnostics = [d for f in files for d in api.validate(f)]
    _report(diagnostics, fmt, len(files))
    sys.exit(EXIT_INVALID if any(d.severity == "error" for d in diagnostics) else EXIT_OK)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of mlops.yaml (for editors and other tools)."""
    from .schema import schema_text

    click.echo(schema_text(), nl=False)


@cli.command("targets")
def list_targets() -> None:
    """List the targets and what each uses for every part of the lifecycle."""
    from mlopsc import targets

    loaded = [targets.get(n) for n in targets.names()]
    parts = sorted({p for t in loaded for p in t.capabilities})
    click.echo("\n".join(f"{t.name:<10} {t.summary}" for t in loaded))
    if not loaded:
        return
    click.echo("")
    widths = [max(len("part"), *(len(p) for p in parts))] + [
        max(len(t.name), *(len(t.capabilities.get(p, "-")) for p in parts)) for t in loaded
    ]
    rows = [["part"] + [t.name for t in loaded]] + [[p] + [t.capabilities.get(p, "-") for t in loaded] for p in parts]
    for i, row in enumerate(rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            click.echo("  ".join("-" * w for w in widths))


@cli.command("compile")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--target", "-t", "target", required=True, help="a target name (see `mlopsc targets`) or `all`")
@click.option("--out", "-o", "out_dir", default="build", show_default=True, type=click.Path(file_okay=False),
              help="output directory; each target writes into OUT/<target>/")
@click.option("--check", is_flag=True, help="write nothing; exit 1 when committed output is stale")
@click.option("--strict", is_flag=True,
              help="with `--target all`: write nothing when any target fails (default: write the others)")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def compile_command(file: str, target: str, out_dir: str, check: bool, strict: bool, fmt: str) -> None:
    """Compile FILE for one target (or all) into OUT/<target>/, atomically. With `--target all`,
    the targets that compile are written and the ones that fail are reported (exit 1)."""
    from mlopsc import targets

    from . import api

    if target != "all" and not targets.exists(target):  # exists() scans entry points only for a non-built-in
        raise click.BadParameter(f"unknown target `{target}`; choose from: all, {', '.join(targets.names())}",
                                 param_hint="--target")
    loaded = api.try_load_project(file)  # once, for choosing the targets and for compiling them
    if target != "all":
        names = [target]
    else:
        names = targets.names() if isinstance(loaded, api.SpecError) else targets.configured_for(loaded)
    skipped = [n for n in targets.names() if n not in names] if target == "all" else []
    if skipped:
        click.echo(f"skipped {', '.join(skipped)}: the spec does not give the `targets.<name>` settings or the "
                   "shared `tracking.uri` they need (compile one with `--target <name>` to see which)", err=True)
    result = api.compile_spec(file, names, loaded)
    _report(result.diagnostics, fmt, 1, quiet_ok=True)
    for name in result.empty:
        click.echo(f"{name}: nothing to compile (the spec has no part this target writes)", err=True)
    if not result.ok and (strict or target != "all" or not result.bundles):
        click.echo("nothing written: fix the errors above", err=True)
        sys.exit(EXIT_INVALID)
    if result.failed:  # --target all keeps going: the others are written, the exit code says it failed
        click.echo(f"failed: {', '.join(result.failed)} (see above); writing the others", err=True)
    if check:
        stale = api.check_fresh(result, out_dir)
        if stale:
            click.echo(f"stale compiled output in {out_dir}/ (run `mlopsc compile {file} --target {target} "
                       f"--out {out_dir}`):", err=True)
            for path in stale:
                click.echo(f"  {path}", err=True)
            sys.exit(EXIT_INVALID)
        click.echo(f"up to date: {', '.join(sorted(result.bundles))}")
        sys.exit(EXIT_INVALID if result.failed else EXIT_OK)
    for directory in api.write(result, out_dir):
        click.echo(f"wrote {directory}/")
    sys.exit(EXIT_INVALID if result.failed else EXIT_OK)


def _register_commands() -> None:
    from .commands_build import build_command
    from .commands_cost import cost_command
    from .commands_review import init_command, plan_command
    from .commands_runtime import (
        monitor_command,
        run_command,
        serve_command,
        step_command,
        train_entry_command,
        sagemaker_serve_command,
    )
    from .commands_submit import submit_command

    cli.add_command(plan_command)
    cli.add_command(init_command)
    cli.add_command(cost_command)
    cli.add_command(submit_command)
    cli.add_command(build_command)
    cli.add_command(step_command)
    cli.add_command(run_command)
    cli.add_command(serve_command)
    cli.add_command(monitor_command)
    cli.add_command(train_entry_command)
    cli.add_command(sagemaker_serve_command)


_register_commands()


def _report(diagnostics, fmt: str, files: int, quiet_ok: bool = False) -> None:
    text = render(diagnostics, fmt)
    if text:
        click.echo(text, nl=False)
    if fmt == "text" and not (quiet_ok and not diagnostics):
        click.echo(summary(diagnostics, files), err=True)


def main() -> None:
    cli(prog_name="mlopsc")
