"""`targets.vertex` as the compiler needs it: the one place this target reads its settings.

project, region and pipeline_root are required (as in the schema): every job, schedule, endpoint
and secret reference names them, so compiling or submitting without them is E703.
"""

from __future__ import annotations

from dataclasses import field

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.ir_node import Node, node
from mlopsc.target_settings import parse_settings, require_settings

NAME = "vertex"


@node  # a frozen dataclass without generated code (see ir_node)
class Settings(Node):
    project: str  # Google Cloud project id
    region: str
    pipeline_root: str  # gs://...
    service_account: str | None = None
    machine_types: dict[str, str] = field(default_factory=dict)  # step kind key -> machine type


def parse(project: ir.Project) -> tuple[Settings | None, list[Diagnostic]]:
    return parse_settings(project, NAME, Settings)


def settings(project: ir.Project) -> Settings:
    return require_settings(project, NAME, Settings)
