"""The `mlopsc` command line: option parsing only; the work happens in mlopsc.api."""

from __future__ import annotations

import sys

import click

from . import __version__
from .commands_compile import UnknownTarget, compile_file, validate_files
from .diagnostics import FORMATS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlopsc")
def cli() -> None:
    """Compile one mlops.yaml into native ML pipelines for Kubeflow, SageMaker, Vertex AI and local."""


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def validate(files: tuple[str, ...], fmt: str) -> None:
    """Check specs against the schema and the lifecycle rules; report every problem at its line."""
    sys.exit(validate_files(files, fmt))


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
    try:
        sys.exit(compile_file(file, target, out_dir, check, strict, fmt))
    except UnknownTarget as e:
        raise click.BadParameter(str(e), param_hint="--target") from None


def _register_commands() -> None:
    from .commands_build import build_command
    from .commands_cost import cost_command
    from .commands_review import init_command, plan_command
    from .commands_runtime import (
        capture_collector_command,
        monitor_command,
        run_command,
        sagemaker_serve_command,
        serve_command,
        step_command,
        train_entry_command,
        vertex_serve_command,
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
    cli.add_command(vertex_serve_command)
    cli.add_command(capture_collector_command)


_register_commands()


def main() -> None:
    cli(prog_name="mlopsc")
