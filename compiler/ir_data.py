"""IR nodes for the spec's data, features, training, evaluation and registry sections."""

# No `from __future__ import annotations`: dataclasses parses string annotations with regexes.

from .ir_base import NO_SPAN, FrozenDict, Span
from .ir_node import Node, node

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any
else:
    Any = object  # the annotations are evaluated (no __future__ import), and only type checkers read them

# ---------------------------------------------------------------- shared building blocks


@node
class Resources(Node):
    """Portable compute: cores, bytes of memory, GPU count and portable GPU type."""

    cpu: float  # cores (0.5 == 500m)
    memory_bytes: int
    gpu_count: int = 0
    gpu_type: str | None = None  # portable name, e.g. "nvidia-t4"
    span: Span = NO_SPAN


@node
class Spot(Node):
    """Interruptible capacity: whether to use it and how long to wait for it (seconds)."""

    enabled: bool
    max_wait_seconds: int
    span: Span = NO_SPAN


@node
class Autoscaling(Node):
    """Replica bounds (0 minimum = scale to zero) and the per-replica concurrency target."""

    min_replicas: int
    max_replicas: int
    target_concurrency: int | None
    span: Span = NO_SPAN

    @property
    def scales_to_zero(self) -> bool:
        return self.min_replicas == 0


@node
class Threshold(Node):
    """`metric` must be >= `min` and/or <= `max`."""

    metric: str
    min: float | None
    max: float | None
    span: Span = NO_SPAN


@node
class Image(Node):
    """The one image every step runs: base, requirements file, registry repository."""

    base: str
    requirements: str | None
    repository: str | None
    span: Span = NO_SPAN
    repository_span: Span = NO_SPAN  # targets check the registry against their cloud (W702)


# ---------------------------------------------------------------- data and features


@node
class Column(Node):
    """A declared column: type, nullability, uniqueness, range and allowed values."""

    name: str
    type: str  # string | integer | number | boolean | category | datetime
    nullable: bool
    unique: bool
    min: float | None
    max: float | None
    values: tuple[Any, ...] | None
    span: Span = NO_SPAN


@node
class Dataset(Node):
    """A named dataset: location, format, version and the checks its data must pass."""

    name: str
    uri: str
    format: str
    version: str | None
    columns: tuple[Column, ...]
    min_rows: int | None
    max_null_fraction: float | None
    schema_from: str | None
    span: Span = NO_SPAN


@node
class Split(Node):
    """How training data is split for validation."""

    validation: float
    seed: int
    stratify: str | None
    span: Span = NO_SPAN


@node
class Data(Node):
    """All datasets, how they are versioned, and the label column."""

    versioning: str  # dvc | lakefs | hash
    label: str | None
    datasets: tuple[Dataset, ...]
    split: Split | None
    span: Span = NO_SPAN

    def dataset(self, name: str) -> Dataset | None:
        return next((d for d in self.datasets if d.name == name), None)


@node
class FeatureView(Node):
    """A feature view: the transform that turns a source dataset into features for an entity."""

    name: str
    entity: str
    join_key: str
    source: str
    ttl_seconds: int | None
    transform: str | None  # "file.py:function"
    features: tuple[tuple[str, str], ...]  # (name, type)
    span: Span = NO_SPAN
    timestamp: str | None = None  # the source's event-time column (Feast's timestamp_field)


@node
class Entity(Node):
    """A feature-store entity: what features describe, and the column that joins them."""

    name: str
    join_key: str
    span: Span = NO_SPAN


@node
class Features(Node):
    """The feature store (or inline transforms), its entities and its views."""

    store: str  # feast | inline
    views: tuple[FeatureView, ...]
    entities: tuple[Entity, ...] = ()
    span: Span = NO_SPAN


# ---------------------------------------------------------------- training and evaluation


@node
class SweepParameter(Node):
    """One hyperparameter's search space."""

    name: str
    distribution: str  # uniform | log_uniform | int_uniform | choice
    values: tuple[Any, ...]  # (low, high) for ranges, the options for choice
    span: Span = NO_SPAN


@node
class Sweep(Node):
    """Hyperparameter search: strategy, objective and trial budget."""

    strategy: str  # grid | random | bayesian
    metric: str
    goal: str  # maximize | minimize
    max_trials: int
    parallel_trials: int
    parameters: tuple[SweepParameter, ...]
    span: Span = NO_SPAN


@node
class Training(Node):
    """The user's training entrypoint and how it runs."""

    entrypoint: str
    framework: str
    hyperparameters: FrozenDict
    resources: Resources
    spot: Spot | None
    checkpoints: str | None
    max_runtime_seconds: int
    sweep: Sweep | None
    span: Span = NO_SPAN


@node
class Tracking(Node):
    """Where runs are tracked (MLflow experiment and URI)."""

    backend: str
    experiment: str
    uri: str | None
    span: Span = NO_SPAN
    uri_span: Span = NO_SPAN  # cloud targets need a store every step reaches (E701)


@node
class EvalSuite(Node):
    """An LLM eval suite: dataset, scorers and the minimum passing score."""

    dataset: str
    scorers: tuple[str, ...]
    min_score: float
    span: Span = NO_SPAN


@node
class Evals(Node):
    """The evaluation gate: thresholds, baseline comparison, slices and LLM suites."""

    dataset: str | None
    thresholds: tuple[Threshold, ...]
    baseline: str | None  # environment or alias to compare with; None: no comparison
    max_regression: tuple[tuple[str, float], ...]
    slices: tuple[str, ...]
    suite: EvalSuite | None
    span: Span = NO_SPAN


@node
class Approval(Node):
    """Which environments need a human approval, and who is told."""

    required_for: tuple[str, ...]
    notify: tuple[str, ...]
    timeout_seconds: int = 24 * 3600  # how long the approval step waits for a decision
    span: Span = NO_SPAN


@node
class Registry(Node):
    """The registered model name and its approval rules."""

    model: str
    approval: Approval | None
    span: Span = NO_SPAN

