"""`mlopsc plan` and `mlopsc init`: option parsing only; the work is in mlopsc.plan and mlopsc.init.

Registered in cli.py with `cli.add_command(plan_command)` and `cli.add_command(init_command)`.
"""

from __future__ import annotations

import os
import sys

import click

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


@click.command("plan")
@click.argument("spec", default="mlops.yaml", type=click.Path(dir_okay=False))
@click.option("--base", "base", metavar="REV|FILE",
              help="the version to compare with: a git revision or a spec file "
                   "[default: the merge base of HEAD with the default branch]")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True, help="markdown is meant for a pull-request comment")
@click.option("--max-diff-lines", default=40, show_default=True, type=click.IntRange(0),
              help="cut each generated file's diff after this many lines")
def plan_command(spec: str, base: str | None, fmt: str, max_diff_lines: int) -> None:
    """Show what a change to SPEC does: each change with its line and the stages it re-runs,
    and the generated files that change for every target."""
    from mlopsc import targets
    from mlopsc.api import display_path
    from mlopsc.diagnostics import SpecError
    from mlopsc.loader import read_bytes

    from .plan import build_plan
    from .plan.gitbase import BaseError, read_base
    from .plan.model import SideError
    from .plan.prompts import readers_for
    from .plan.render import render

    display = display_path(spec)
    try:
        new_raw = read_bytes(spec, display)
        found = read_base(spec, display, base)
    except BaseError as exc:
        click.echo(exc.diagnostic.text(), err=True)
        sys.exit(EXIT_USAGE)
    except SpecError as exc:  # the working spec cannot be read (missing, a directory)
        click.echo("\n".join(d.text() for d in exc.diagnostics), err=True)
        sys.exit(EXIT_USAGE)
    try:
        result = build_plan(new_raw, display, found.raw, found.display, found.label, targets.names(),
                            max_diff_lines, readers_for(spec, base, found.revision))
    except SideError as exc:
        for d in exc.diagnostics:
            click.echo(d.text(), err=True)
        which = (f"the base spec from {found.label} no longer parses or validates" if exc.side == "base"
                 else "the working spec is invalid")
        hint = ("compare with another revision: --base <rev>" if exc.side == "base"
                else "run `mlopsc validate` and fix the errors above")
        click.echo(f"cannot plan: {which}; {hint}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(render(result, fmt), nl=False)


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--name", help="the project name (lowercase, digits, dashes) [default: from DIRECTORY]")
@click.option("--template", type=click.Choice(["tabular", "llm"]), default="tabular", show_default=True)
@click.option("--target", default="all", show_default=True,
              help="the target whose compiled output CI and pre-commit keep fresh, or `all`")
@click.option("--out", "out_dir", default="build", show_default=True,
              help="where compiled output is committed (OUT/<target>/)")
@click.option("--force", is_flag=True, help="overwrite files that exist")
def init_command(directory: str, name: str | None, template: str, target: str, out_dir: str, force: bool) -> None:
    """Scaffold mlops.yaml, a GitHub Actions workflow and a pre-commit config in DIRECTORY."""
    from .init import InitError, scaffold

    try:
        written = scaffold(directory, name=name, template=template, target=target, out_dir=out_dir, force=force)
    except InitError as exc:
        click.echo(f"error: {exc}", err=True)
        if exc.hint:
            click.echo(f"  hint: {exc.hint}", err=True)
        sys.exit(EXIT_USAGE)
    for path in written:
        click.echo(f"wrote {os.path.relpath(path)}")
    spec = os.path.relpath(os.path.join(directory, "mlops.yaml"))
    click.echo(f"next: edit {spec}, then `mlopsc validate {spec}` and `pre-commit install`")
