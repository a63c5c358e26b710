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
@click.option("--pipeline", type=click.Choice(["train", "deploy", "monitor"]), default=None,
              help="vertex: the one pipeline to run (default train), its schedule created or updated")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="vertex: a pipeline parameter (repeatable)")
@click.option("--host", default=None, help="kubeflow: the KFP API server's URL (default: KF_PIPELINES_ENDPOINT)")
@click.option("--namespace", default=None, help="kubeflow: the namespace of the experiment and runs")
def submit_command(file: str, target: str, endpoint_url: str | None, region: str | None, dry_run: bool,
                   pipeline: str | None, params: tuple[str, ...], host: str | None, namespace: str | None) -> None:
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
    chosen = {"pipeline": pipeline} if pipeline else {}
    if params:  # only the targets that take them are given them
        chosen["params"] = dict(_pair(p) for p in params)
    kfp_options = {k: v for k, v in {"host": host, "namespace": namespace}.items() if v}
    if kfp_options and target != "kubeflow":
        raise click.UsageError(f"--{next(iter(kfp_options))} is an option of `--target kubeflow` only")
    outcomes = _submit(targets.get(target), api.load_project(file), files,
                       endpoint_url=endpoint_url, dry_run=dry_run, region=region, **chosen, **kfp_options)
    for outcome in outcomes:
        click.echo(f"{outcome['action']}: {outcome['pipeline']} {outcome.get('arn', '')}".rstrip(), err=dry_run)


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"expected NAME=VALUE, got {text!r}", param_hint="--param")
    return name, value


def _submit(target, project, files: dict[str, str], **options) -> list[dict[str, str]]:
    """The target's submitter, its failures shown as one line rather than a traceback."""
    from mlopsc.targets import SubmitNotSupported

    try:
        return target.submit(project, files, **options)
    except SubmitNotSupported as exc:
        raise click.UsageError(str(exc)) from exc
    except TypeError as exc:  # --pipeline / --param given to a target whose submitter takes neither
        if "unexpected keyword argument" not in str(exc):
            raise
        raise click.UsageError(f"`submit --target {target.name}` takes no --pipeline or --param") from exc
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("mlopsc"):
            raise
        raise click.ClickException(f"`submit --target {target.name}` needs the `{target.name}` extra: "
                                   f"pip install 'mlopsc[{target.name}]' ({exc})") from exc
    except Exception as exc:  # the platform's own error, shown without a traceback
        if type(exc).__module__.startswith("urllib3"):
            raise click.ClickException(f"cannot reach the {target.name} API: {exc}") from exc
        if type(exc).__module__.startswith(("botocore", "boto3", "google", "kfp_server_api")):
            raise click.ClickException(f"{target.name} rejected the request: {_one_line(exc)}") from exc
        raise


def _one_line(exc: Exception) -> str:
    """kfp_server_api's ApiException prints headers and body on many lines: status, reason, body."""
    if hasattr(exc, "status") and hasattr(exc, "body"):
        return f"HTTP {exc.status} {getattr(exc, 'reason', '')}: {' '.join(str(exc.body or '').split())}"
    return str(exc)
