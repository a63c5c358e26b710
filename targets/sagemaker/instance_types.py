"""Portable resources -> SageMaker instance types: one table, one rule.

The rule: the first row (rows are ordered cheapest first within each kind) whose vCPUs, memory and
GPUs (count and portable type) all cover the request and that SageMaker offers for the use
(training job, processing job, endpoint). `targets.sagemaker.instance_types.<use>` overrides it.
`None` means no row fits; the caller reports E701 at the resources' spec line.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.ir_node import Node, node

GIB = 2**30
USES = ("training", "processing", "serving")


@node  # a frozen dataclass without generated code (see ir_node)
class InstanceType(Node):
    name: str
    vcpu: int
    memory_gib: int
    gpu_count: int = 0
    gpu_type: str | None = None
    uses: tuple[str, ...] = USES


_NO_PROCESSING = ("training", "serving")

# CPU rows, cheapest first (general purpose, then compute and memory optimized as needed).
_CPU = (
    InstanceType("ml.t3.medium", 2, 4, uses=("processing",)),
    InstanceType("ml.m5.large", 2, 8),
    InstanceType("ml.c5.xlarge", 4, 8),
    InstanceType("ml.r5.large", 2, 16),
    InstanceType("ml.m5.xlarge", 4, 16),
    InstanceType("ml.c5.2xlarge", 8, 16),
    InstanceType("ml.r5.xlarge", 4, 32),
    InstanceType("ml.m5.2xlarge", 8, 32),
    InstanceType("ml.c5.4xlarge", 16, 32),
    InstanceType("ml.r5.2xlarge", 8, 64),
    InstanceType("ml.m5.4xlarge", 16, 64),
    InstanceType("ml.c5.9xlarge", 36, 72),
    InstanceType("ml.r5.4xlarge", 16, 128),
    InstanceType("ml.c5.18xlarge", 72, 144),
    InstanceType("ml.m5.12xlarge", 48, 192),
    InstanceType("ml.m5.24xlarge", 96, 384),
    InstanceType("ml.r5.12xlarge", 48, 384),
    InstanceType("ml.r5.24xlarge", 96, 768),
)

# GPU rows per portable GPU type, cheapest first.
_GPU = (
    InstanceType("ml.g4dn.xlarge", 4, 16, 1, "nvidia-t4"),
    InstanceType("ml.g4dn.2xlarge", 8, 32, 1, "nvidia-t4"),
    InstanceType("ml.g4dn.4xlarge", 16, 64, 1, "nvidia-t4"),
    InstanceType("ml.g4dn.8xlarge", 32, 128, 1, "nvidia-t4"),
    InstanceType("ml.g4dn.12xlarge", 48, 192, 4, "nvidia-t4"),
    InstanceType("ml.g4dn.16xlarge", 64, 256, 1, "nvidia-t4"),
    InstanceType("ml.g5.xlarge", 4, 16, 1, "nvidia-a10g"),
    InstanceType("ml.g5.2xlarge", 8, 32, 1, "nvidia-a10g"),
    InstanceType("ml.g5.4xlarge", 16, 64, 1, "nvidia-a10g"),
    InstanceType("ml.g5.8xlarge", 32, 128, 1, "nvidia-a10g"),
    InstanceType("ml.g5.12xlarge", 48, 192, 4, "nvidia-a10g"),
    InstanceType("ml.g5.16xlarge", 64, 256, 1, "nvidia-a10g"),
    InstanceType("ml.g5.24xlarge", 96, 384, 4, "nvidia-a10g"),
    InstanceType("ml.g5.48xlarge", 192, 768, 8, "nvidia-a10g"),
    InstanceType("ml.g6.xlarge", 4, 16, 1, "nvidia-l4"),
    InstanceType("ml.g6.2xlarge", 8, 32, 1, "nvidia-l4"),
    InstanceType("ml.g6.4xlarge", 16, 64, 1, "nvidia-l4"),
    InstanceType("ml.g6.8xlarge", 32, 128, 1, "nvidia-l4"),
    InstanceType("ml.g6.12xlarge", 48, 192, 4, "nvidia-l4"),
    InstanceType("ml.g6.16xlarge", 64, 256, 1, "nvidia-l4"),
    InstanceType("ml.g6.24xlarge", 96, 384, 4, "nvidia-l4"),
    InstanceType("ml.g6.48xlarge", 192, 768, 8, "nvidia-l4"),
    InstanceType("ml.p3.2xlarge", 8, 61, 1, "nvidia-v100"),
    InstanceType("ml.p3.8xlarge", 32, 244, 4, "nvidia-v100"),
    InstanceType("ml.p3.16xlarge", 64, 488, 8, "nvidia-v100"),
    # A100 and H100 come only as 8-GPU instances on SageMaker.
    InstanceType("ml.p4d.24xlarge", 96, 1152, 8, "nvidia-a100", uses=_NO_PROCESSING),
    InstanceType("ml.p4de.24xlarge", 96, 1152, 8, "nvidia-a100-80gb", uses=_NO_PROCESSING),
    InstanceType("ml.p5.48xlarge", 192, 2048, 8, "nvidia-h100", uses=_NO_PROCESSING),
)

TABLE: tuple[InstanceType, ...] = _CPU + _GPU


def fits(row: InstanceType, res: ir.Resources, use: str) -> bool:
    if use not in row.uses:
        return False
    if row.vcpu < res.cpu or row.memory_gib * GIB < res.memory_bytes:
        return False
    if res.gpu_count:
        return row.gpu_type == res.gpu_type and row.gpu_count >= res.gpu_count
    return row.gpu_count == 0


def choose(res: ir.Resources, use: str, overrides: dict[str, str] | None = None) -> str | None:
    """The instance type for `use`; an override wins; None when nothing in the table fits."""
    if use not in USES:
        raise ValueError(f"unknown use {use!r}")
    if overrides and overrides.get(use):
        return overrides[use]
    return next((row.name for row in TABLE if fits(row, res, use)), None)


def describe(res: ir.Resources) -> str:
    text = f"{res.cpu:g} vCPU, {res.memory_bytes / GIB:g} GiB memory"
    if res.gpu_count:
        text += f", {res.gpu_count} x {res.gpu_type}"
    return text
