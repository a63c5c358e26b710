"""The Vertex AI target: single-document KFP v2 IR, GCPC deploy components, job configs, schedules."""

from .target import VertexTarget

__all__ = ["VertexTarget"]
