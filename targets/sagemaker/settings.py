"""`targets.sagemaker` as the compiler needs it: the one place this target reads its settings.

region, role and bucket are required (as in the schema): there is no safe default for an IAM
role or a bucket, so compiling or submitting without them is E703, never a placeholder ARN.
"""

from __future__ import annotations

from dataclasses import field

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.ir_node import Node, node
from mlopsc.target_settings import parse_settings, require_settings

NAME = "sagemaker"


@node  # a frozen dataclass without generated code (see ir_node)
class Settings(Node):
    region: str
    role: str
    bucket: str  # s3://bucket[/prefix]; stored without a trailing slash
    instance_types: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bucket", self.bucket.rstrip("/"))

    def s3(self, *parts: str) -> str:
        return "/".join([self.bucket, *[p.strip("/") for p in parts if p]])


def parse(project: ir.Project) -> tuple[Settings | None, list[Diagnostic]]:
    return parse_settings(project, NAME, Settings)


def settings(project: ir.Project) -> Settings:
    return require_settings(project, NAME, Settings)
