"""`mlopsc submit`: compile in memory, then hand the files to the target's own submitter.

Every target has `Target.submit(project, compiled_files, endpoint_url=, dry_run=, region=, out=)`;
the platform SDK is imported inside the submitter, never on the compile path. Compiling first
means a missing required setting (role, project, bucket, ...) stops a submit, dry run included,
with the same located E703 as `mlopsc compile`: nothing is ever invented.
"""

from __future__ import annotations

import sys

import click


@click.command("submit")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--target", "-t", "target", required=True, help="a target name (see `mlopsc targets`)")
@click.option("--endpoint-url", default=None, help="API endpoint override (e.g. a local test server)")
@click.option("--region", default=None, help="override the region from `targets.<target>`")
@click.option("--dry-run", is_flag=True, help="build the requests and print them; call nothing")
def submit_command(file: str, target: str, endpoint_url: str | None, region: str | None, dry_run: bool) -> None:
    """Compile FILE and create or update its pipelines on the platform (idempotent)."""
    from mlopsc import targets

    from . import api
    from .diagnostics import render

    if not targets.exists(target):
        raise click.BadParameter(f"unknown target `{target}`; choose from: {', '.join(targets.names())}",
                                 param_hint="--target")
    result = api.compile_spec(file, [target])
    if result.diagnostics:
        click.echo(render(result.diagnostics, "text"), nl=False, err=True)
    if not result.ok:
        sys.exit(1)
    files = {p: t for p, t in result.bundles[target].items() if p not in ("README.md", "manifest.json")}
    outcomes = _submit(targets.get(target), api.load_project(file), files,
                       endpoint_url=endpoint_url, dry_run=dry_run, region=region)
    for outcome in outcomes:
        click.echo(f"{outcome['action']}: {outcome['pipeline']} {outcome.get('arn', '')}".rstrip(), err=dry_run)


def _submit(target, project, files: dict[str, str], **options) -> list[dict[str, str]]:
    """The target's submitter, its failures shown as one line rather than a traceback."""
    from mlopsc.targets import SubmitNotSupported

    try:
        return target.submit(project, files, **options)
    except SubmitNotSupported as exc:
        raise click.UsageError(str(exc)) from exc
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("mlopsc"):
            raise
        raise click.ClickException(f"`submit --target {target.name}` needs the `{target.name}` extra: "
                                   f"pip install 'mlopsc[{target.name}]' ({exc})") from exc
    except Exception as exc:  # the platform's own error, shown without a traceback
        if type(exc).__module__.startswith(("botocore", "boto3", "google")):
            raise click.ClickException(f"{target.name} rejected the request: {exc}") from exc
        raise
