"""Portable resources -> Vertex AI accelerator enums and machine types.

Pipeline steps run as Vertex custom jobs: Vertex picks the machine from the container's CPU and
memory *limits* and the accelerator from `accelerator.type`, which must be a Vertex
`AcceleratorType` enum name (https://cloud.google.com/vertex-ai/docs/pipelines/machine-types).
Model deployment names the machine explicitly (`dedicated_resources_machine_type`), so serving
resources go through the table below: the smallest listed machine that has the cores, memory and
GPUs asked for. `targets.vertex.machine_types.{training,processing}` overrides the table for
pipeline steps; the step's limits then become that machine's shape so Vertex picks it.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.ir_node import Node, node

GIB = 2**30

# portable GPU type -> Vertex AcceleratorType (None: Google Cloud does not offer it)
ACCELERATORS: dict[str, str | None] = {
    "nvidia-t4": "NVIDIA_TESLA_T4",
    "nvidia-l4": "NVIDIA_L4",
    "nvidia-a10g": None,  # an AWS-only part
    "nvidia-v100": "NVIDIA_TESLA_V100",
    "nvidia-a100": "NVIDIA_TESLA_A100",
    "nvidia-a100-80gb": "NVIDIA_A100_80GB",
    "nvidia-h100": "NVIDIA_H100_80GB",
}


@node  # a frozen dataclass without generated code (see ir_node)
class Machine(Node):
    name: str
    cpu: int
    memory_gib: float
    gpus: int = 0  # GPUs built into the machine (A2/A3/G2); N1 machines attach them instead

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * GIB)


def _family(prefix: str, sizes: tuple[int, ...], gib_per_cpu: float) -> list[Machine]:
    return [Machine(f"{prefix}-{n}", n, n * gib_per_cpu) for n in sizes]


# Smallest first within a family. CPU-only serving and steps use E2; T4 and V100 attach to N1.
CPU_MACHINES = (_family("e2-standard", (2, 4, 8, 16, 32), 4) + _family("e2-highmem", (2, 4, 8, 16), 8)
                + _family("n1-highmem", (32, 64, 96), 6.5))
N1_MACHINES = _family("n1-standard", (4, 8, 16, 32, 64, 96), 3.75) + _family("n1-highmem", (4, 8, 16, 32, 64, 96), 6.5)
# Machines that come with their GPUs (count is part of the machine type).
GPU_MACHINES: dict[str, list[Machine]] = {
    "NVIDIA_L4": [Machine("g2-standard-4", 4, 16, 1), Machine("g2-standard-8", 8, 32, 1),
                  Machine("g2-standard-12", 12, 48, 1), Machine("g2-standard-16", 16, 64, 1),
                  Machine("g2-standard-32", 32, 128, 1), Machine("g2-standard-24", 24, 96, 2),
                  Machine("g2-standard-48", 48, 192, 4), Machine("g2-standard-96", 96, 384, 8)],
    "NVIDIA_TESLA_A100": [Machine("a2-highgpu-1g", 12, 85, 1), Machine("a2-highgpu-2g", 24, 170, 2),
                          Machine("a2-highgpu-4g", 48, 340, 4), Machine("a2-highgpu-8g", 96, 680, 8)],
    "NVIDIA_A100_80GB": [Machine("a2-ultragpu-1g", 12, 170, 1), Machine("a2-ultragpu-2g", 24, 340, 2),
                         Machine("a2-ultragpu-4g", 48, 680, 4), Machine("a2-ultragpu-8g", 96, 1360, 8)],
    "NVIDIA_H100_80GB": [Machine("a3-highgpu-1g", 26, 234, 1), Machine("a3-highgpu-2g", 52, 468, 2),
                         Machine("a3-highgpu-4g", 104, 936, 4), Machine("a3-highgpu-8g", 208, 1872, 8)],
}
ATTACHED_GPU = frozenset({"NVIDIA_TESLA_T4", "NVIDIA_TESLA_V100"})

KNOWN = {m.name: m for m in CPU_MACHINES + N1_MACHINES + [m for ms in GPU_MACHINES.values() for m in ms]}


def accelerator(res: ir.Resources) -> str | None:
    """The Vertex accelerator enum for the resources' GPU, or None (no GPU, or not offered)."""
    if not res.gpu_count:
        return None
    return ACCELERATORS.get(res.gpu_type or "nvidia-t4")


def machine_for(res: ir.Resources) -> Machine | None:
    """The smallest listed machine with the cores, memory and GPUs asked for (None: none fits)."""
    acc = accelerator(res)
    if res.gpu_count and acc is None:
        return None
    if acc in GPU_MACHINES:
        candidates = [m for m in GPU_MACHINES[acc] if m.gpus == res.gpu_count]
    elif acc in ATTACHED_GPU:
        candidates = N1_MACHINES
    else:
        candidates = CPU_MACHINES
    fits = [m for m in candidates if m.cpu >= res.cpu and m.memory_bytes >= res.memory_bytes]
    return min(fits, key=lambda m: (m.cpu, m.memory_gib)) if fits else None


def shaped_like(machine: Machine, res: ir.Resources) -> ir.Resources:
    """`res` with the cores and memory of `machine`, so Vertex picks that machine for a step."""
    return ir.Resources(cpu=float(machine.cpu), memory_bytes=machine.memory_bytes,
                        gpu_count=res.gpu_count, gpu_type=res.gpu_type, span=res.span)
