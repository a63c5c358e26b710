"""The Kubeflow target: KFP v2 IR pipelines, KServe InferenceServices, KFP recurring runs."""

from .target import KubeflowTarget

__all__ = ["KubeflowTarget"]
