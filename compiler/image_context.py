"""What goes into the step image's build context, as a pure function of the spec: the Dockerfile
and which project files are copied where. `mlopsc build` (image_build.py) writes and builds it.

Layout inside the image (fixed, whatever directory compile or build ran from):
- `/opt/mlopsc/venv`: a virtual environment with mlopsc (the wheel in the context) and the
  packages each target's steps need, plus the spec's `image.requirements`;
- `/opt/mlopsc/project/`: the spec and the code it names, at their paths relative to the spec's
  directory (`train.py:train` and `features.py:...` resolve as they do on the user's machine);
- `/usr/local/bin/train` and `serve`: SageMaker starts training images as `IMAGE train` and
  inference images as `IMAGE serve`; they hand over to `mlopsc`.
The image runs as root: SageMaker's training and processing contracts expect it.
"""

from __future__ import annotations

import os

from . import ir
from .ir_node import Node, node

PROJECT_DIR = "/opt/mlopsc/project"
VENV = "/opt/mlopsc/venv"
# Packages a cloud step needs beyond `mlopsc[local]` (the runtime: MLflow, pandas, torch): data and
# MLflow artifacts in S3 or GCS (fsspec's s3fs/gcsfs, boto3 for MLflow's S3 store and the AWS
# calls). One set for every cloud target, so one image, and one cached dependency layer, serves
# them all: a spec's data may live in either store whatever runs the pipeline.
CLOUD_PACKAGES = ("boto3>=1.40", "s3fs>=2024.6", "gcsfs>=2024.6")
TARGET_PACKAGES: dict[str, tuple[str, ...]] = {
    "local": (),
    "kubeflow": CLOUD_PACKAGES,
    "sagemaker": CLOUD_PACKAGES,
    "vertex": CLOUD_PACKAGES,
}
ENTRY_SCRIPTS = {
    # SageMaker training images run `IMAGE train`: the step argv is in MLOPSC_STEP_ARGV.
    "train": '#!/bin/sh\nexec mlopsc train "$@"\n',
    # ... and inference images as `IMAGE serve`: the model unpacked in /opt/ml/model, port 8080.
    "serve": '#!/bin/sh\nexec mlopsc sagemaker-serve "$@"\n',
}


@node  # a frozen dataclass without generated code (see ir_node)
class ContextPlan(Node):
    """The build context: generated files (path -> text) and project files to copy (src -> dest)."""

    dockerfile: str
    generated: dict[str, str]
    copies: tuple[tuple[str, str], ...]  # (path relative to the spec's dir, path under project/)


def project_files(project: ir.Project, spec_dir: str) -> list[str]:
    """Files the image needs from the spec's directory: the spec, the files it names, and the
    Python code beside them (a training module may import its neighbours)."""
    named = {os.path.basename(project.spec_path)}
    for ref in _code_refs(project):
        named.add(ref)
    named.update(_local_base_model(project, spec_dir))
    for root, dirs, files in os.walk(spec_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("build", "dist", "__pycache__"))
        for name in files:
            if name.endswith(".py"):
                named.add(os.path.relpath(os.path.join(root, name), spec_dir).replace(os.sep, "/"))
    return sorted(p for p in named if os.path.isfile(os.path.join(spec_dir, p)))


def _local_base_model(project: ir.Project, spec_dir: str) -> list[str]:
    """A `base_model` that is a directory beside the spec (the local example's tiny model) goes into
    the image: the fine-tune step loads it there. A hub id is downloaded by the step."""
    base = project.llm.base_model if project.llm else None
    root = os.path.join(spec_dir, base) if base else ""
    if not base or os.path.isabs(base) or not os.path.isdir(root):
        return []
    return [os.path.relpath(os.path.join(d, f), spec_dir).replace(os.sep, "/")
            for d, _, files in os.walk(root) for f in files]


def _code_refs(project: ir.Project) -> list[str]:
    refs: list[str] = []
    if project.image.requirements:
        refs.append(project.image.requirements)
    if project.training:
        refs.append(project.training.entrypoint.partition(":")[0])
    if project.features:
        refs += [v.transform.partition(":")[0] for v in project.features.views if v.transform]
    if project.llm:
        refs += [p.path for p in project.llm.prompts]
    return [os.path.normpath(r).replace(os.sep, "/") for r in refs if r]


def dockerfile(project: ir.Project, target: str, *, wheel: str, pip_cert: bool, constraints: bool) -> str:
    """Dependencies first (their layer survives code changes), then mlopsc, then the project."""
    flags = "--no-cache-dir" + (" -c /opt/mlopsc/constraints.txt" if constraints else "")
    deps = ["-r /opt/mlopsc/requirements-mlopsc.txt"]
    if project.image.requirements:
        deps.append("-r /opt/mlopsc/requirements.txt")
    lines = [
        "# syntax=docker/dockerfile:1",
        f"# The step image of `{project.name}` for the {target} target, written by `mlopsc build`:",
        "# every pipeline step runs `mlopsc step ...` in it.",
        f"FROM {project.image.base}",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \\",
        f"    VIRTUAL_ENV={VENV} PATH={VENV}/bin:$PATH MLOPSC_WORKDIR=/opt/mlopsc/work",
    ]
    if pip_cert:  # a CA bundle for pip behind a TLS-inspecting proxy
        lines += ["COPY pip/ca-bundle.pem /opt/mlopsc/pip/ca-bundle.pem",
                  "ENV PIP_CERT=/opt/mlopsc/pip/ca-bundle.pem"]
    lines.append("COPY wheels/ /opt/mlopsc/wheels/")
    copied = ["requirements-mlopsc.txt"] + (["constraints.txt"] if constraints else [])
    lines.append(f"COPY {' '.join(copied)} /opt/mlopsc/")
    if project.image.requirements:
        lines.append(f"COPY project/{project.image.requirements} /opt/mlopsc/requirements.txt")
    lines += [
        f"RUN python3 -m venv {VENV} \\",
        f"    && pip install {flags} --find-links /opt/mlopsc/wheels {' '.join(deps)} \\",
        "    && mkdir -p /opt/mlopsc/work",
        f"COPY mlopsc/{wheel} /opt/mlopsc/",
        f"RUN pip install --no-cache-dir --no-deps /opt/mlopsc/{wheel}",
        "COPY bin/ /usr/local/bin/",
        f"COPY project/ {PROJECT_DIR}/",
        f"WORKDIR {PROJECT_DIR}",
    ]
    return "\n".join(lines) + "\n"


def mlopsc_requirements(requires_dist: list[str], target: str, feast: bool = False, llm: bool = False) -> list[str]:
    """mlopsc's own dependencies for the image (from the wheel's Requires-Dist): the core ones, the
    `local` extra's (the step runtime) without their marker, the `feast` extra's for a spec with
    `features.store: feast`, the `llm` extra's (transformers, peft, scorers) for a spec with
    `llm`, and the target's packages."""
    extras = {"local"} | ({"feast"} if feast else set()) | ({"llm"} if llm else set())
    out: list[str] = []
    for line in requires_dist:
        req, _, marker = line.partition(";")
        marker = marker.strip()
        if not marker or marker.startswith("extra ==") and marker.split("==", 1)[1].strip().strip("\"'") in extras:
            out.append(req.strip())
    return out + list(TARGET_PACKAGES.get(target, ()))


def context_plan(project: ir.Project, target: str, spec_dir: str, *, wheel: str, requires_dist: list[str],
                 pip_cert: bool = False, constraints: bool = False) -> ContextPlan:
    files = project_files(project, spec_dir)
    generated = {f"bin/{name}": text for name, text in ENTRY_SCRIPTS.items()}
    feast = bool(project.features and project.features.store == "feast")
    requirements = mlopsc_requirements(requires_dist, target, feast, llm=project.llm is not None)
    generated["requirements-mlopsc.txt"] = "\n".join(requirements) + "\n"
    return ContextPlan(
        dockerfile=dockerfile(project, target, wheel=wheel, pip_cert=pip_cert, constraints=constraints),
        generated=generated,
        copies=tuple((f, f"project/{f}") for f in files),
    )


def image_spec_path(project: ir.Project) -> str:
    """Where the spec lies inside the image."""
    return f"{PROJECT_DIR}/{os.path.basename(project.spec_path)}"
