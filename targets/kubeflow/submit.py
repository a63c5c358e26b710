"""`mlopsc submit --target kubeflow`: not supported yet. The compiled files are what the KFP
client and kubectl take, so the message says which command uploads each."""

from __future__ import annotations

from typing import Any

from mlopsc import ir
from mlopsc.targets.base import SubmitNotSupported


def submit(project: ir.Project, compiled_files: dict[str, str], **options: Any) -> list[dict[str, str]]:
    raise SubmitNotSupported("`mlopsc submit` is not supported for target `kubeflow` yet: upload "
                             "`pipelines/*.yaml` with `kfp pipeline create` and apply `serving/*.yaml` "
                             "with `kubectl apply -f`")
