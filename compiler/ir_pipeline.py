"""IR nodes for pipelines: step graphs built from the project by compiler/pipelines.py."""

# No `from __future__ import annotations`: dataclasses parses string annotations with regexes.

from .ir_base import NO_SPAN, Span
from .ir_data import Resources, Spot
from .ir_node import Node, node

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any
else:
    Any = object  # the annotations are evaluated (no __future__ import), and only type checkers read them

# ---------------------------------------------------------------- pipelines (step graphs)

# Port kinds. Artifacts are files; parameters are small typed values.
ARTIFACT_KINDS = frozenset({"dataset", "model", "metrics", "artifact"})
PARAMETER_KINDS = frozenset({"string", "integer", "number", "boolean"})


@node
class Port(Node):
    """A step output: a parameter (small typed value) or an artifact (files)."""

    name: str
    kind: str  # one of ARTIFACT_KINDS | PARAMETER_KINDS

    @property
    def is_artifact(self) -> bool:
        return self.kind in ARTIFACT_KINDS


@node
class FromStep(Node):
    """An input bound to another step's output."""

    step: str
    output: str


@node
class FromParam(Node):
    """An input bound to a pipeline parameter."""

    param: str


@node
class Constant(Node):
    """An input bound to a literal value."""

    value: Any


@node
class Input(Node):
    """A step input and where its value comes from."""

    name: str
    kind: str
    source: FromStep | FromParam | Constant


@node
class Param(Node):
    """A pipeline parameter: a runtime value resolved when a run is submitted."""

    name: str
    kind: str  # string | integer | number | boolean
    default: Any
    description: str


@node
class Condition(Node):
    """Run a step only when `step`'s parameter `output` compares to `value` by `op`."""

    step: str
    output: str
    op: str  # == | !=
    value: Any


@node
class Step(Node):
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


@node
class Pipeline(Node):
    """One pipeline (train, deploy or monitor): parameters and topologically ordered steps."""

    name: str  # train | deploy | monitor
    description: str
    params: tuple[Param, ...]
    steps: tuple[Step, ...]  # topologically ordered
    schedule: str | None = None  # cron
    on_failure: Step | None = None  # exit handler: runs when any step fails

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

