"""IR nodes for deployment, monitoring, triggers, cost and LLM work."""

# No `from __future__ import annotations`: dataclasses parses string annotations with regexes.
from .ir_base import NO_SPAN, FrozenDict, Span
from .ir_data import Autoscaling, Resources, Spot, Threshold
from .ir_node import Node, node

# ---------------------------------------------------------------- deployment


@node
class Serving(Node):
    """How models are served: runtime, resources, autoscaling."""

    runtime: str  # mlflow | torchserve | triton | vllm | custom
    resources: Resources
    autoscaling: Autoscaling
    span: Span = NO_SPAN


@node
class LoadTest(Node):
    """A load test run after deploying to an environment."""

    rps: int
    duration_seconds: int
    max_p95_ms: float
    span: Span = NO_SPAN


@node
class Strategy(Node):
    """How traffic moves to a new model in one environment."""

    type: str  # direct | canary | blue_green | shadow | ab_test
    steps: tuple[int, ...]  # canary traffic percentages, ending at 100
    interval_seconds: int
    sample: float | None  # shadow: fraction of traffic mirrored
    split: float | None  # ab_test: challenger share
    duration_seconds: int | None
    span: Span = NO_SPAN


@node
class Rollback(Node):
    """When a rollout rolls back automatically."""

    max_error_rate: float | None
    max_p99_latency_ms: float | None
    span: Span = NO_SPAN


@node
class Environment(Node):
    """One deployment environment, in the order written in the spec."""

    name: str
    smoke_test: bool
    load_test: LoadTest | None
    strategy: Strategy
    rollback: Rollback | None
    requires_approval: bool
    span: Span = NO_SPAN


@node
class Deployment(Node):
    """Serving settings and the ordered environments."""

    serving: Serving
    environments: tuple[Environment, ...]
    span: Span = NO_SPAN


# ---------------------------------------------------------------- monitoring, triggers, cost


@node
class Drift(Node):
    """Data drift detection against a reference dataset."""

    reference: str
    method: str  # psi | ks | wasserstein | chi2
    threshold: float
    features: tuple[str, ...]
    span: Span = NO_SPAN


@node
class Performance(Node):
    """Model quality on fresh labels."""

    labels: str
    thresholds: tuple[Threshold, ...]
    span: Span = NO_SPAN


@node
class LlmQuality(Node):
    """LLM quality rates watched in production."""

    max_hallucination_rate: float | None
    max_refusal_rate: float | None
    min_tool_call_success: float | None
    span: Span = NO_SPAN


@node
class Feedback(Node):
    """User feedback signals and where they are stored."""

    signals: tuple[str, ...]
    store: str | None
    span: Span = NO_SPAN


@node
class Monitoring(Node):
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
    capture_sample: float = 1.0  # fraction of served requests recorded for monitoring
    span: Span = NO_SPAN


@node
class Triggers(Node):
    """What starts the train pipeline besides a person."""

    data: str
    code: str
    schedule: str | None
    span: Span = NO_SPAN


@node
class Cost(Node):
    """The monthly budget and when to alert."""

    budget_monthly_usd: float
    alert_at: float
    prices: str | None = None  # the spec's own price file (relative to the spec), over the shipped tables
    span: Span = NO_SPAN


# ---------------------------------------------------------------- LLM


@node
class Prompt(Node):
    """A prompt file in the repository (its hash goes into lineage)."""

    name: str
    path: str
    span: Span = NO_SPAN


@node
class FineTune(Node):
    """LLM fine-tuning of the base model."""

    method: str  # lora | qlora | full
    dataset: str
    lora: FrozenDict
    epochs: int
    resources: Resources
    spot: Spot | None
    max_runtime_seconds: int
    learning_rate: float = 0.0002
    span: Span = NO_SPAN


@node
class LlmServing(Node):
    """Self-hosted LLM serving (vLLM or TGI)."""

    engine: str
    max_model_len: int | None
    tensor_parallel: int
    resources: Resources
    autoscaling: Autoscaling
    span: Span = NO_SPAN


@node
class Route(Node):
    """A gateway route to a self-hosted or hosted model."""

    name: str
    model: str
    provider: str
    api_key: str | None  # always a ${secret:NAME} reference
    span: Span = NO_SPAN


@node
class Gateway(Node):
    """The LLM gateway: routes, fallbacks, cache and budget."""

    engine: str
    routes: tuple[Route, ...]
    fallbacks: tuple[tuple[str, tuple[str, ...]], ...]
    cache: FrozenDict
    budget: FrozenDict
    span: Span = NO_SPAN


@node
class Llm(Node):
    """LLM work: prompts, base model, fine-tuning, serving and gateway."""

    prompts: tuple[Prompt, ...]
    base_model: str
    fine_tune: FineTune | None
    serving: LlmServing | None
    gateway: Gateway | None
    span: Span = NO_SPAN

