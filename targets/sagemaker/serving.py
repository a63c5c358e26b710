"""How one environment is served on SageMaker: serverless or instances, and the traffic shift.

Shared by the checks (which report what cannot be expressed) and the CloudFormation emitter.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.ir_node import Node, node

from . import instance_types
from .settings import Settings

SERVERLESS_MAX_MB = 6144
MAX_WAIT_INTERVAL = 3600  # BlueGreenUpdatePolicy.TrafficRoutingConfiguration.WaitIntervalInSeconds
MAX_EXECUTION = 28800  # BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds


@node  # a frozen dataclass without generated code (see ir_node)
class Serving(Node):
    runtime: str
    resources: ir.Resources
    autoscaling: ir.Autoscaling
    span: ir.Span


@node  # a frozen dataclass without generated code (see ir_node)
class Routing(Node):
    type: str  # ALL_AT_ONCE | CANARY | LINEAR
    step_percent: int | None
    wait_seconds: int
    dropped_steps: tuple[int, ...] = ()  # canary steps SageMaker cannot shift through

    @property
    def shifts(self) -> int:
        if self.type == "LINEAR" and self.step_percent:
            return -(-100 // self.step_percent)
        return 1 if self.type == "CANARY" else 0

    @property
    def timeout_seconds(self) -> int:
        """Time the whole update may take: every bake interval, the final bake, and 10 minutes."""
        return max(600, self.wait_seconds * self.shifts + self.termination_wait + 600)

    @property
    def termination_wait(self) -> int:
        return min(self.wait_seconds, MAX_WAIT_INTERVAL)


def serving(project: ir.Project) -> Serving | None:
    if project.llm and project.llm.serving:
        s = project.llm.serving
        return Serving(s.engine, s.resources, s.autoscaling, s.span)
    if project.deployment:
        s = project.deployment.serving
        return Serving(s.runtime, s.resources, s.autoscaling, s.span)
    return None


def is_serverless(s: Serving) -> bool:
    """Scale to zero maps to serverless inference, which has no GPUs and at most 6 GiB."""
    return (s.autoscaling.scales_to_zero and s.resources.gpu_count == 0
            and s.resources.memory_bytes <= SERVERLESS_MAX_MB * 2**20)


def serverless_memory_mb(s: Serving) -> int:
    mb = -(-s.resources.memory_bytes // 2**20)
    return min(SERVERLESS_MAX_MB, max(1024, -(-mb // 1024) * 1024))


def serverless_concurrency(s: Serving) -> int:
    return min(200, max(1, s.autoscaling.max_replicas * (s.autoscaling.target_concurrency or 1)))


def instance_type(s: Serving, settings: Settings) -> str | None:
    return instance_types.choose(s.resources, "serving", settings.instance_types)


def routing(strategy: ir.Strategy) -> Routing:
    wait = strategy.interval_seconds
    if strategy.type == "canary":
        steps = [x for x in strategy.steps if x < 100]
        if not steps:
            return Routing("ALL_AT_ONCE", None, wait)
        gaps = {b - a for a, b in zip([0, *steps], [*steps, 100])}
        if len(steps) > 1 and len(gaps) == 1:
            return Routing("LINEAR", steps[0], wait)
        return Routing("CANARY", steps[0], wait, tuple(steps[1:]))
    if strategy.type == "blue_green":
        return Routing("ALL_AT_ONCE", None, wait)
    return Routing("ALL_AT_ONCE", None, 0)


def monitored_environment(project: ir.Project) -> ir.Environment | None:
    """Model Monitor watches the last environment of the rollout (production)."""
    if project.deployment and project.deployment.environments:
        return project.deployment.environments[-1]
    return None


def endpoint_name(project: ir.Project, env: ir.Environment) -> str:
    from .expressions import resource_name

    return resource_name(project.name, env.name)
