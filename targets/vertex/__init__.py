"""The Vertex AI target: single-document KFP v2 IR, a rollout step over the endpoint traffic split, job configs, schedules."""

__all__ = ["VertexTarget"]


def __getattr__(name: str):
    # The target class is imported on first use: `mlopsc cost` and the budget gate read only the
    # instance/machine table of this package, and validate should not pay for the emitters.
    if name == "VertexTarget":
        from .target import VertexTarget

        return VertexTarget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
