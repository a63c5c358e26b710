"""`mlopsc build`: option parsing only; the work is in mlopsc.image_build."""

from __future__ import annotations

import sys

import click


@click.command("build")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--target", "-t", "target", default="local", show_default=True,
              help="the target whose steps the image runs (adds that platform's packages)")
@click.option("--tag", help="image tag: NAME:TAG, or TAG on the spec's image.repository (default: latest)")
@click.option("--push", is_flag=True, help="push the built image (to image.repository, or the tag's registry)")
@click.option("--out", "out", type=click.Path(file_okay=False),
              help="where to write the build context (default: build/<project>/image-<target>)")
@click.option("--base", help="base image instead of the spec's image.base")
@click.option("--constraints", type=click.Path(dir_okay=False, exists=True),
              help="pip constraints file used inside the build (e.g. pins the CPU build of torch)")
@click.option("--pip-cert", "pip_cert", type=click.Path(dir_okay=False, exists=True),
              help="CA bundle for pip inside the build (behind a TLS-inspecting proxy)")
@click.option("--find-links", "find_links", type=click.Path(file_okay=False, exists=True),
              help="a folder of wheels copied into the context for pip to use (e.g. a CPU torch wheel)")
@click.option("--docker-binary", "docker", default="docker", show_default=True, help="the Docker client to run")
def build_command(spec, target, tag, push, out, base, constraints, pip_cert, find_links, docker) -> None:
    """Write the step image's build context for SPEC and build it with the Docker engine."""
    from mlopsc import api
    from mlopsc.diagnostics import SpecError, render
    from mlopsc.image_build import BuildError, BuildOptions, build

    try:
        project = api.load_project(spec)
    except SpecError as e:
        click.echo(render(e.diagnostics, "text"), nl=False, err=True)
        sys.exit(1)
    opts = BuildOptions(spec=spec, target=target, tag=tag, push=push, out=out, base=base,
                        constraints=constraints, pip_cert=pip_cert, find_links=find_links, docker=docker)
    try:
        result = build(project, opts, log=lambda m: click.echo(m, err=True))
    except BuildError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    click.echo(f"wrote build context {result.context}/")
    if not result.built:
        click.echo("no Docker engine answered; build the image with:\n  " + " ".join(result.command))
        return
    click.echo(f"built {result.tag} ({result.image_id})" + (" and pushed it" if push else ""))
