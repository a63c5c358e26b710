"""`mlopsc build`: write the step image's build context and build it with the Docker engine.

The context (`build/<project>/image-<target>/` by default) holds the Dockerfile from
`image_context`, an mlopsc wheel built from the installed source tree, the project files, and,
when asked, a pip CA bundle, a constraints file and extra wheels (`--find-links`: e.g. the CPU
build of torch). It is written next to its final place and renamed over it, so a failed build
leaves the previous context intact. Without a Docker engine, `build` writes the context and
prints the command that builds it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import image_context


class BuildError(Exception):
    """The context could not be written or the image not built; the message says why (one line)."""


@dataclass
class BuildOptions:
    spec: str
    target: str = "local"
    tag: str | None = None
    push: bool = False
    out: str | None = None
    base: str | None = None  # overrides image.base (a company base image, or a test's offline one)
    constraints: str | None = None
    pip_cert: str | None = None
    find_links: str | None = None
    docker: str = "docker"


@dataclass
class BuildResult:
    context: str
    tag: str
    built: bool
    image_id: str | None = None
    command: tuple[str, ...] = ()


def image_tag(project, tag: str | None) -> str:
    """TAG as given; a bare tag (`v3`) goes on the spec's repository; default `<repository>:latest`,
    the image the compiled pipelines name by default."""
    repo = project.image.repository or project.name
    if not tag:
        return f"{repo}:latest"
    return tag if (":" in tag or "/" in tag) else f"{repo}:{tag}"


def source_root() -> Path:
    """The mlopsc source tree the running package comes from (an editable or source install)."""
    import mlopsc

    root = Path(mlopsc.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or 'name = "mlopsc"' not in pyproject.read_text(encoding="utf-8"):
        raise BuildError(f"mlopsc build needs mlopsc's source tree to build the wheel for the image; "
                         f"{mlopsc.__file__} is not inside one (install mlopsc from its source with pip install -e)")
    return root


# What the wheel is built from; everything else in the source tree (tests, goldens, venvs) stays out.
_NOT_SOURCE = shutil.ignore_patterns(".*", "__pycache__", "*.egg-info", "build", "dist", "tests", "golden",
                                     "specs", "benchmarks", "docs", "tools", "scripts", "node_modules")


def build_wheel(dest: Path) -> str:
    """Build mlopsc's wheel into dest from a copy of its source (setuptools writes egg-info next to
    the source, which would shadow the installed package's metadata); returns its file name."""
    with tempfile.TemporaryDirectory(prefix="mlopsc-src-") as tmp:
        src = Path(tmp) / "mlopsc"
        shutil.copytree(source_root(), src, ignore=_NOT_SOURCE)
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                               "-w", str(dest), str(src)], capture_output=True, text=True)
    wheels = sorted(p.name for p in dest.glob("mlopsc-*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel written"]
        raise BuildError(f"building the mlopsc wheel failed: {last[0]}")
    return wheels[-1]


def write_context(project, opts: BuildOptions) -> Path:
    """Write the build context atomically; returns its directory."""
    spec_dir = Path(opts.spec).resolve().parent
    final = Path(opts.out or os.path.join("build", project.name, f"image-{opts.target}")).resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        _fill_context(staging, project, spec_dir, opts)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def wheel_requires(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist lines."""
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(name).decode("utf-8")
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]


def _fill_context(ctx: Path, project, spec_dir: Path, opts: BuildOptions) -> None:
    wheel = build_wheel(ctx / "mlopsc")
    (ctx / "wheels").mkdir()
    if opts.find_links:
        for whl in sorted(Path(opts.find_links).glob("*.whl")):
            shutil.copy2(whl, ctx / "wheels" / whl.name)
    if opts.pip_cert:
        _copy(Path(opts.pip_cert), ctx / "pip" / "ca-bundle.pem", "--pip-cert")
    if opts.constraints:
        _copy(Path(opts.constraints), ctx / "constraints.txt", "--constraints")
    plan = image_context.context_plan(project, opts.target, str(spec_dir), wheel=wheel,
                                      requires_dist=wheel_requires(ctx / "mlopsc" / wheel),
                                      pip_cert=bool(opts.pip_cert), constraints=bool(opts.constraints))
    _write(ctx / "Dockerfile", plan.dockerfile)
    for rel, text in sorted(plan.generated.items()):
        _write(ctx / rel, text, mode=0o755 if rel.startswith("bin/") else 0o644)
    for src, dest in plan.copies:
        _copy(spec_dir / src, ctx / dest, "project file")


def _copy(src: Path, dest: Path, what: str) -> None:
    if not src.is_file():
        raise BuildError(f"{what}: {src} does not exist")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
    path.chmod(mode)


def docker_available(docker: str) -> bool:
    if shutil.which(docker) is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True).returncode == 0


def _docker(argv: list[str], what: str, log) -> None:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    for line in proc.stdout:
        log("  " + line.rstrip())
        tail = (tail + [line.strip()])[-5:]
    if proc.wait() != 0:
        reason = next((t for t in reversed(tail) if t), "no output")
        raise BuildError(f"{what} failed (exit {proc.returncode}): {reason}")


def build(project, opts: BuildOptions, log=print) -> BuildResult:
    """Write the context; build (and push) the image when a Docker engine answers."""
    if opts.base:
        from dataclasses import replace

        project = replace(project, image=replace(project.image, base=opts.base))
    tag = image_tag(project, opts.tag)
    if opts.push and not project.image.repository and "/" not in tag:
        raise BuildError("--push needs a registry: set image.repository in the spec, or pass --tag REGISTRY/NAME:TAG")
    ctx = write_context(project, opts)
    command = (opts.docker, "build", "--network", "host", "-t", tag, str(ctx))
    if not docker_available(opts.docker):
        return BuildResult(str(ctx), tag, built=False, command=command)
    _docker(list(command), "docker build", log)
    if opts.push:
        _docker([opts.docker, "push", tag], "docker push", log)
    image_id = subprocess.run([opts.docker, "image", "inspect", "--format", "{{.Id}}", tag],
                              capture_output=True, text=True).stdout.strip() or None
    return BuildResult(str(ctx), tag, built=True, image_id=image_id, command=command)
