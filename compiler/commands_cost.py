"""`mlopsc cost`: option parsing only; the work is in mlopsc.cost.

Registered in cli.py with `cli.add_command(cost_command)`.
"""

from __future__ import annotations

import sys

import click

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


@click.command("cost")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--target", "-t", "target", default="all", show_default=True,
              help="a target name or `all` (the targets the spec configures, else local)")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--prices", "prices", type=click.Path(dir_okay=False, exists=True),
              help="your own price table (JSON or YAML), merged over the shipped one")
@click.option("--actual", is_flag=True, help="also sum the step hours recorded in MLflow per month")
@click.option("--tracking-uri", default=None, help="the MLflow store for --actual [default: as a local run]")
def cost_command(spec: str, target: str, fmt: str, prices: str | None, actual: bool, tracking_uri: str | None) -> None:
    """Estimate what SPEC costs a month on each target: every line with its quantity, unit price
    and assumption. Exit 1 when the spec is invalid or over its budget."""
    from mlopsc.cost import report
    from mlopsc.cost.prices import PricesError
    from mlopsc.diagnostics import SpecError, render

    try:
        result = report.build(spec, target, prices, actual=actual, tracking_uri=tracking_uri)
    except SpecError as exc:
        click.echo(render(exc.diagnostics, "text"), err=True, nl=False)
        sys.exit(EXIT_INVALID)
    except (PricesError, report.UsageError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(result.text(fmt), nl=False)
    if result.diagnostics:
        click.echo(render(result.diagnostics, "text"), err=True, nl=False)
    sys.exit(EXIT_INVALID if any(d.severity == "error" for d in result.diagnostics) else EXIT_OK)
