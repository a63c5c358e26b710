"""The target registry: names -> target classes, imported lazily so `mlopsc targets` stays fast."""

from __future__ import annotations

from importlib import import_module

from .base import OutputFile, Target

# name -> "module:Class"; each target is a small package that overrides what differs.
_REGISTRY: dict[str, str] = {
    "local": "mlopsc.targets.local:LocalTarget",
    "sagemaker": "mlopsc.targets.sagemaker:SageMakerTarget",
    "kubeflow": "mlopsc.targets.kubeflow:KubeflowTarget",
    "vertex": "mlopsc.targets.vertex:VertexTarget",
}


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> Target:
    module, _, cls = _REGISTRY[name].partition(":")
    return getattr(import_module(module), cls)()


__all__ = ["OutputFile", "Target", "get", "names"]
