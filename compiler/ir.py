"""The intermediate representation: a typed, normalized, frozen model of one spec.

Everything a target needs is here with defaults applied and units resolved (cores, bytes,
seconds), so targets never look at the raw YAML. Every node that came from the spec carries
the `Span` of its spec line, so a target can report "cannot express X" at the right place.

The nodes live in ir_base (spans, frozen mappings), ir_data (data, features, training,
evaluation, registry), ir_ops (deployment, monitoring, triggers, cost, LLM) and ir_pipeline
(step graphs); import them from here: `from mlopsc import ir; ir.Project`.
"""

from __future__ import annotations

from dataclasses import field

from .ir_base import (  # noqa: F401 - re-exported: the IR's public names
    NO_SPAN,
    FrozenDict,
    Span,
    freeze,
    thaw,
)
from .ir_data import (  # noqa: F401 - re-exported: the IR's public names
    Approval,
    Autoscaling,
    Column,
    Data,
    Dataset,
    Entity,
    Evals,
    EvalSuite,
    Features,
    FeatureView,
    Image,
    Registry,
    Resources,
    Split,
    Spot,
    Sweep,
    SweepParameter,
    Threshold,
    Tracking,
    Training,
)
from .ir_node import Node, node
from .ir_ops import (  # noqa: F401 - re-exported: the IR's public names
    Cost,
    Deployment,
    Drift,
    Environment,
    Feedback,
    FineTune,
    Gateway,
    Llm,
    LlmQuality,
    LlmServing,
    LoadTest,
    Monitoring,
    Performance,
    Prompt,
    Rollback,
    Route,
    Serving,
    Strategy,
    Triggers,
)
from .ir_pipeline import (  # noqa: F401 - re-exported: the IR's public names
    ARTIFACT_KINDS,
    PARAMETER_KINDS,
    Condition,
    Constant,
    FromParam,
    FromStep,
    Input,
    Param,
    Pipeline,
    Port,
    Step,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

# ---------------------------------------------------------------- the whole project


@node
class Project(Node):
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
    labels_span: Span = NO_SPAN  # where a target says which labels its platform cannot carry (W702)

    def pipeline(self, name: str) -> Pipeline | None:
        return next((p for p in self.pipelines if p.name == name), None)

    def target_settings(self, target: str) -> FrozenDict:
        return next((s for n, s in self.targets if n == target), FrozenDict())
