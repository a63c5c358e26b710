"""`targets.local` as the compiler needs it: the one place this target reads its settings."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.ir_node import Node, node
from mlopsc.target_settings import parse_settings, require_settings

NAME = "local"


@node  # a frozen dataclass without generated code (see ir_node)
class Settings(Node):
    tracking_uri: str = "sqlite:///.mlopsc/mlflow.db"
    port: int = 8080


def parse(project: ir.Project) -> tuple[Settings | None, list[Diagnostic]]:
    return parse_settings(project, NAME, Settings)


def settings(project: ir.Project) -> Settings:
    return require_settings(project, NAME, Settings)
