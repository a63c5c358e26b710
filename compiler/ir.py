"""The intermediate representation: a typed, normalized, frozen model of one spec.

Everything a target needs is here with defaults applied and units resolved (cores, bytes,
seconds), so targets never look at the raw YAML. Every node that came from the spec carries
the `Span` of its spec line, so a target can report "cannot express X" at the right place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def thaw(value: Any) -> Any:
    """Turn frozen IR values back into plain dicts and lists for emitters."""
    if isinstance(value, FrozenDict):
        return {k: thaw(v) for k, v in value}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


class FrozenDict(tuple):
    """A tuple of (key, value) pairs that thaws back into a dict (lists thaw into lists)."""

    __slots__ = ()

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self:
            if k == key:
                return v
        return default

    def keys(self) -> list[str]:
        return [k for k, _ in self]


def freeze(value: Any) -> Any:
    """Turn parsed YAML (dicts, lists, scalars) into hashable IR values, keys sorted."""
    if isinstance(value, dict):
        return FrozenDict((k, freeze(value[k])) for k in sorted(value))
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


@dataclass(frozen=True, order=True)
class Span:
    """A position in a spec file (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NO_SPAN = Span("<default>", 0, 0)


# ---------------------------------------------------------------- shared building blocks


@dataclass(frozen=True)
class Resources:
    """Portable compute: cores, bytes of memory, GPU count and portable GPU type."""

    cpu: float  # cores (0.5 == 500m)
    memory_bytes: int
    gpu_count: int = 0
    gpu_type: str | None = None  # portable name, e.g. "nvidia-t4"
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Spot:
    """Interruptible capacity: whether to use it and how long to wait for it (seconds)."""

    enabled: bool
    max_wait_seconds: int
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Autoscaling:
    """Replica bounds (0 minimum = scale to zero) and the per-replica concurrency target."""

    min_replicas: int
    max_replicas: int
    target_concurrency: int | None
    span: Span = NO_SPAN

    @property
    def scales_to_zero(self) -> bool:
        return self.min_replicas == 0


@dataclass(frozen=True)
class Threshold:
    """`metric` must be >= `min` and/or <= `max`."""

    metric: str
    min: float | None
    max: float | None
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Image:
    """The one image every step runs: base, requirements file, registry repository."""

    base: str
    requirements: str | None
    repository: str | None
    span: Span = NO_SPAN


# ---------------------------------------------------------------- data and features


@dataclass(frozen=True)
class Column:
    """A declared column: type, nullability, uniqueness, range and allowed values."""

    name: str
    type: str  # string | integer | number | boolean | category | datetime
    nullable: bool
    unique: bool
    min: float | None
    max: float | None
    values: tuple[Any, ...] | None
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Dataset:
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


@dataclass(frozen=True)
class Split:
    """How training data is split for validation."""

    validation: float
    seed: int
    stratify: str | None
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Data:
    """All datasets, how they are versioned, and the label column."""

    versioning: str  # dvc | lakefs | hash
    label: str | None
    datasets: tuple[Dataset, ...]
    split: Split | None
    span: Span = NO_SPAN

    def dataset(self, name: str) -> Dataset | None:
        return next((d for d in self.datasets if d.name == name), None)


@dataclass(frozen=True)
class FeatureView:
    """A feature view: the transform that turns a source dataset into features for an entity."""

    name: str
    entity: str
    join_key: str
    source: str
    ttl_seconds: int | None
    transform: str | None  # "file.py:function"
    features: tuple[tuple[str, str], ...]  # (name, type)
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Features:
    """The feature store (or inline transforms) and its views."""

    store: str  # feast | inline
    views: tuple[FeatureView, ...]
    span: Span = NO_SPAN


# ---------------------------------------------------------------- training and evaluation


@dataclass(frozen=True)
class SweepParameter:
    """One hyperparameter's search space."""

    name: str
    distribution: str  # uniform | log_uniform | int_uniform | choice
    values: tuple[Any, ...]  # (low, high) for ranges, the options for choice
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Sweep:
    """Hyperparameter search: strategy, objective and trial budget."""

    strategy: str  # grid | random | bayesian
    metric: str
    goal: str  # maximize | minimize
    max_trials: int
    parallel_trials: int
    parameters: tuple[SweepParameter, ...]
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Training:
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


@dataclass(frozen=True)
class Tracking:
    """Where runs are tracked (MLflow experiment and URI)."""

    backend: str
    experiment: str
    uri: str | None
    span: Span = NO_SPAN


@dataclass(frozen=True)
class EvalSuite:
    """An LLM eval suite: dataset, scorers and the minimum passing score."""

    dataset: str
    scorers: tuple[str, ...]
    min_score: float
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Evals:
    """The evaluation gate: thresholds, baseline comparison, slices and LLM suites."""

    dataset: str | None
    thresholds: tuple[Threshold, ...]
    baseline: str | None  # environment or alias to compare with; None: no comparison
    max_regression: tuple[tuple[str, float], ...]
    slices: tuple[str, ...]
    suite: EvalSuite | None
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Approval:
    """Which environments need a human approval, and who is told."""

    required_for: tuple[str, ...]
    notify: tuple[str, ...]
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Registry:
    """The registered model name and its approval rules."""

    model: str
    approval: Approval | None
    span: Span = NO_SPAN


# ---------------------------------------------------------------- deployment


@dataclass(frozen=True)
class Serving:
    """How models are served: runtime, resources, autoscaling."""

    runtime: str  # mlflow | torchserve | triton | vllm | custom
    resources: Resources
    autoscaling: Autoscaling
    span: Span = NO_SPAN


@dataclass(frozen=True)
class LoadTest:
    """A load test run after deploying to an environment."""

    rps: int
    duration_seconds: int
    max_p95_ms: float
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Strategy:
    """How traffic moves to a new model in one environment."""

    type: str  # direct | canary | blue_green | shadow | ab_test
    steps: tuple[int, ...]  # canary traffic percentages, ending at 100
    interval_seconds: int
    sample: float | None  # shadow: fraction of traffic mirrored
    split: float | None  # ab_test: challenger share
    duration_seconds: int | None
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Rollback:
    """When a rollout rolls back automatically."""

    max_error_rate: float | None
    max_p99_latency_ms: float | None
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Environment:
    """One deployment environment, in the order written in the spec."""

    name: str
    smoke_test: bool
    load_test: LoadTest | None
    strategy: Strategy
    rollback: Rollback | None
    requires_approval: bool
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Deployment:
    """Serving settings and the ordered environments."""

    serving: Serving
    environments: tuple[Environment, ...]
    span: Span = NO_SPAN


# ---------------------------------------------------------------- monitoring, triggers, cost


@dataclass(frozen=True)
class Drift:
    """Data drift detection against a reference dataset."""

    reference: str
    method: str  # psi | ks | wasserstein | chi2
    threshold: float
    features: tuple[str, ...]
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Performance:
    """Model quality on fresh labels."""

    labels: str
    thresholds: tuple[Threshold, ...]
    span: Span = NO_SPAN


@dataclass(frozen=True)
class LlmQuality:
    """LLM quality rates watched in production."""

    max_hallucination_rate: float | None
    max_refusal_rate: float | None
    min_tool_call_success: float | None
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Feedback:
    """User feedback signals and where they are stored."""

    signals: tuple[str, ...]
    store: str | None
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Monitoring:
    """The monitor pipeline's schedule, checks and reactions."""

    schedule: str
    max_p99_latency_ms: float | None
    max_error_rate: float | None
    drift: Drift | None
    performance: Performance | None
    llm: LlmQuality | None
    evals_schedule: str | None  # cron for rerunning the eval suite
    feedback: Feedback | None
    on_violation: tuple[str, ...]
    alerts: tuple[str, ...]
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Triggers:
    """What starts the train pipeline besides a person."""

    data: str
    code: str
    schedule: str | None
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Cost:
    """The monthly budget and when to alert."""

    budget_monthly_usd: float
    alert_at: float
    span: Span = NO_SPAN


# ---------------------------------------------------------------- LLM


@dataclass(frozen=True)
class Prompt:
    """A prompt file in the repository (its hash goes into lineage)."""

    name: str
    path: str
    span: Span = NO_SPAN


@dataclass(frozen=True)
class FineTune:
    """LLM fine-tuning of the base model."""

    method: str  # lora | qlora | full
    dataset: str
    lora: FrozenDict
    epochs: int
    resources: Resources
    spot: Spot | None
    max_runtime_seconds: int
    span: Span = NO_SPAN


@dataclass(frozen=True)
class LlmServing:
    """Self-hosted LLM serving (vLLM or TGI)."""

    engine: str
    max_model_len: int | None
    tensor_parallel: int
    resources: Resources
    autoscaling: Autoscaling
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Route:
    """A gateway route to a self-hosted or hosted model."""

    name: str
    model: str
    provider: str
    api_key: str | None  # always a ${secret:NAME} reference
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Gateway:
    """The LLM gateway: routes, fallbacks, cache and budget."""

    engine: str
    routes: tuple[Route, ...]
    fallbacks: tuple[tuple[str, tuple[str, ...]], ...]
    cache: FrozenDict
    budget: FrozenDict
    span: Span = NO_SPAN


@dataclass(frozen=True)
class Llm:
    """LLM work: prompts, base model, fine-tuning, serving and gateway."""

    prompts: tuple[Prompt, ...]
    base_model: str
    fine_tune: FineTune | None
    serving: LlmServing | None
    gateway: Gateway | None
    span: Span = NO_SPAN


# ---------------------------------------------------------------- pipelines (step graphs)

# Port kinds. Artifacts are files; parameters are small typed values.
ARTIFACT_KINDS = frozenset({"dataset", "model", "metrics", "artifact"})
PARAMETER_KINDS = frozenset({"string", "integer", "number", "boolean"})


@dataclass(frozen=True)
class Port:
    """A step output: a parameter (small typed value) or an artifact (files)."""

    name: str
    kind: str  # one of ARTIFACT_KINDS | PARAMETER_KINDS

    @property
    def is_artifact(self) -> bool:
        return self.kind in ARTIFACT_KINDS


@dataclass(frozen=True)
class FromStep:
    """An input bound to another step's output."""

    step: str
    output: str


@dataclass(frozen=True)
class FromParam:
    """An input bound to a pipeline parameter."""

    param: str


@dataclass(frozen=True)
class Constant:
    """An input bound to a literal value."""

    value: Any


@dataclass(frozen=True)
class Input:
    """A step input and where its value comes from."""

    name: str
    kind: str
    source: FromStep | FromParam | Constant


@dataclass(frozen=True)
class Param:
    """A pipeline parameter: a runtime value resolved when a run is submitted."""

    name: str
    kind: str  # string | integer | number | boolean
    default: Any
    description: str


@dataclass(frozen=True)
class Condition:
    """Run a step only when `step`'s parameter `output` compares to `value` by `op`."""

    step: str
    output: str
    op: str  # == | !=
    value: Any


@dataclass(frozen=True)
class Step:
    """One `mlopsc step <action> ...` invocation.

    `kind` tells a target which native mechanism fits: processing, training, tuning,
    register, deploy, approval, fail (stop the run with `message`), notify.
    """

    name: str
    action: str
    kind: str
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Port, ...] = ()
    args: tuple[tuple[str, str], ...] = ()
    resources: Resources | None = None
    after: tuple[str, ...] = ()
    when: Condition | None = None
    retries: int = 0
    cache: bool = True
    spot: Spot | None = None
    max_runtime_seconds: int | None = None
    message: str | None = None
    span: Span = NO_SPAN

    def output(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    def upstream(self) -> tuple[str, ...]:
        """Steps this one waits for: data producers and explicit ordering, in order, once."""
        seen: list[str] = []
        for i in self.inputs:
            if isinstance(i.source, FromStep) and i.source.step not in seen:
                seen.append(i.source.step)
        for name in self.after:
            if name not in seen:
                seen.append(name)
        if self.when and self.when.step not in seen:
            seen.append(self.when.step)
        return tuple(seen)


@dataclass(frozen=True)
class Pipeline:
    name: str  # train | deploy | monitor
    description: str
    params: tuple[Param, ...]
    steps: tuple[Step, ...]  # topologically ordered
    schedule: str | None = None  # cron
    on_failure: Step | None = None  # exit handler: runs when any step fails

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)


# ---------------------------------------------------------------- the whole project


@dataclass(frozen=True)
class Project:
    """The whole spec, normalized: the root of the IR."""

    api_version: str
    name: str
    description: str
    owner: str | None
    labels: tuple[tuple[str, str], ...]
    spec_path: str  # as given on the command line, relative; never absolute in outputs
    spec_hash: str  # sha256 of the spec file's bytes
    image: Image
    data: Data | None
    features: Features | None
    training: Training | None
    tracking: Tracking
    evals: Evals | None
    registry: Registry
    deployment: Deployment | None
    monitoring: Monitoring | None
    triggers: Triggers | None
    cost: Cost | None
    llm: Llm | None
    targets: Any  # mlopsc.target_settings.TargetsBlock: each `targets.<name>` with its span
    pipelines: tuple[Pipeline, ...] = field(default=())
    span: Span = NO_SPAN

    def pipeline(self, name: str) -> Pipeline | None:
        return next((p for p in self.pipelines if p.name == name), None)

    def target_settings(self, target: str) -> FrozenDict:
        return next((s for n, s in self.targets if n == target), FrozenDict())
