"""The shared KFP v2 IR writer: IR pipelines -> PipelineSpec dicts (protobuf JSON names) and YAML.

Used by the Kubeflow target (two documents: PipelineSpec + kfp-kubernetes PlatformSpec) and the
Vertex target (one document). A target changes what differs by subclassing `Dialect`.
"""

from .builder import Compiled, build
from .dialect import Dialect
from .serialize import render

__all__ = ["Compiled", "Dialect", "build", "render"]
