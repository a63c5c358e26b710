"""`targets.kubeflow` as the compiler needs it: the one place this target reads its settings."""

from __future__ import annotations

from dataclasses import field

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.ir_node import Node, node
from mlopsc.target_settings import parse_settings, require_settings

NAME = "kubeflow"


@node  # a frozen dataclass without generated code (see ir_node)
class Settings(Node):
    namespace: str = "default"
    serving: str = "kserve"
    node_selectors: dict[str, str] = field(default_factory=dict)  # GPU type -> node label value
    service_account: str | None = None
    tuner: str = "in_process"  # katib | in_process
    feast: dict[str, str] | None = None  # {registry, redis} for features.store: feast


def parse(project: ir.Project) -> tuple[Settings | None, list[Diagnostic]]:
    return parse_settings(project, NAME, Settings)


def settings(project: ir.Project) -> Settings:
    return require_settings(project, NAME, Settings)
