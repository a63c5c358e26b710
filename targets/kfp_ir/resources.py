"""Portable resources -> the `container.resources` fields kfp 2.17 writes.

kfp 2.17's compiler writes both the deprecated numeric fields (`cpuLimit: 2.0`, `memoryLimit`
in GB as a float, `accelerator.type/count`) and the current string fields
(`resourceCpuLimit: '2'`, `resourceMemoryLimit: 4Gi`, `accelerator.resourceType/resourceCount`);
older KFP backends read only the first, newer ones prefer the second, so we write both.
Requests equal limits: training pods get the Guaranteed QoS class, and Vertex derives its
machine type from the limits.
"""

from __future__ import annotations

from mlopsc import ir

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

GPU_RESOURCE = "nvidia.com/gpu"


def cpu_quantity(cores: float) -> str:
    """Kubernetes CPU quantity: whole cores as '2', fractions in millicores ('500m')."""
    if float(cores).is_integer():
        return str(int(cores))
    return f"{round(cores * 1000)}m"


def memory_quantity(nbytes: int) -> str:
    """Kubernetes memory quantity in the largest binary unit that divides it exactly."""
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if nbytes % size == 0:
            return f"{nbytes // size}{unit}"
    return str(nbytes)


def _gb(nbytes: int) -> float:
    # kfp's deprecated memory fields hold decimal gigabytes (4Gi -> 4.294967296).
    return round(nbytes / 1e9, 9)


def container_resources(res: ir.Resources, accelerator_type: str | None = GPU_RESOURCE) -> dict[str, Any]:
    cpu, mem = float(res.cpu), int(res.memory_bytes)
    out: dict[str, Any] = {
        "cpuLimit": cpu,
        "cpuRequest": cpu,
        "memoryLimit": _gb(mem),
        "memoryRequest": _gb(mem),
        "resourceCpuLimit": cpu_quantity(cpu),
        "resourceCpuRequest": cpu_quantity(cpu),
        "resourceMemoryLimit": memory_quantity(mem),
        "resourceMemoryRequest": memory_quantity(mem),
    }
    if res.gpu_count and accelerator_type:
        count = str(res.gpu_count)
        out["accelerator"] = {"count": count, "resourceCount": count,
                              "resourceType": accelerator_type, "type": accelerator_type}
    return out
