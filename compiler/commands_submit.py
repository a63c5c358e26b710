"""`mlopsc submit`: compile in memory, then hand the files to the target's own submitter.

A target that can submit has a `submit` module with
`submit(project, compiled_files, endpoint_url=None, dry_run=False, region=None, out=None)`;
the platform SDK is imported inside it, never on the compile path.
"""

from __future__ import annotations

import sys
from importlib import import_module

import click

SUBMITTERS = ("sagemaker", "vertex")


def _submitter(target: str):
    try:
        return import_module(f"mlopsc.targets.{target}.submit").submit
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("mlopsc.targets"):
            return None
        raise click.ClickException(f"`submit --target {target}` needs the `{target}` extra: "
                                   f"pip install 'mlopsc[{target}]' ({exc})") from exc


@click.command("submit")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--target", "-t", "target", required=True, type=click.Choice(SUBMITTERS))
@click.option("--endpoint-url", default=None, help="API endpoint override (e.g. a local test server)")
@click.option("--region", default=None, help="override the region from `targets.<target>`")
@click.option("--dry-run", is_flag=True, help="build the requests and print them; call nothing")
def submit_command(file: str, target: str, endpoint_url: str | None, region: str | None, dry_run: bool) -> None:
    """Compile FILE and create or update its pipelines on the platform (idempotent)."""
    from . import api
    from .diagnostics import render

    result = api.compile_spec(file, [target])
    if result.diagnostics:
        click.echo(render(result.diagnostics, "text"), nl=False, err=True)
    if not result.ok:
        sys.exit(1)
    submit = _submitter(target)
    if submit is None:
        raise click.UsageError(f"target `{target}` cannot submit yet")
    files = {p: t for p, t in result.bundles[target].items() if p not in ("README.md", "manifest.json")}
    try:
        outcomes = submit(api.load_project(file), files, endpoint_url=endpoint_url, dry_run=dry_run, region=region)
    except Exception as exc:  # the platform's own error, shown without a traceback
        if type(exc).__module__.startswith(("botocore", "boto3", "google")):
            raise click.ClickException(f"{target} rejected the request: {exc}") from exc
        raise
    for outcome in outcomes:
        click.echo(f"{outcome['action']}: {outcome['pipeline']} {outcome.get('arn', '')}".rstrip(), err=dry_run)
