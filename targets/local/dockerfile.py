"""The Dockerfile every local container (and the cloud images) builds from the project."""

from __future__ import annotations

from mlopsc import __version__, ir


def dockerfile(project: ir.Project) -> str:
    image = project.image
    lines = [
        "# syntax=docker/dockerfile:1",
        f"FROM {image.base}",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1",
        "WORKDIR /app",
    ]
    mlopsc = f"\"mlopsc[local]=={__version__}\""
    if image.requirements:
        # Requirements first, so code changes do not invalidate the dependency layer.
        lines += [f"COPY {image.requirements} /tmp/requirements.txt",
                  f"RUN pip install --no-cache-dir -r /tmp/requirements.txt {mlopsc}"]
    else:
        lines += [f"RUN pip install --no-cache-dir {mlopsc}"]
    lines += [
        "COPY . /app",
        "RUN useradd --create-home --uid 10001 mlops && mkdir -p /app/.mlopsc && chown -R 10001 /app/.mlopsc",
        "USER 10001",
        'ENTRYPOINT ["mlopsc"]',
        f'CMD ["run", "{project.spec_path}"]',
    ]
    return "\n".join(lines) + "\n"
