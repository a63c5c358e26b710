"""What one unit of compute costs per hour on each target, through the targets' own mappings.

SageMaker and Vertex price the instance or machine type the target compiles for the resources
(so the estimate and the compiled pipeline always agree); Kubeflow and local price a pod as its
share of the smallest node of the Kubernetes node table that fits it.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.ir import thaw

from ..ir_node import Node, node
from .prices import PriceBook

GIB = 2**30
NODE_TABLE_TARGETS = ("kubeflow", "local")


@node  # a frozen dataclass without generated code (see ir_node)
class Rate(Node):
    resource: str  # instance type, machine type or node share, as shown on the line
    usd_per_hour: float
    spot_discount: float  # fraction saved when the step runs on spot capacity


class NoPrice(Exception):
    """The target maps the resources to a type the price table has no price for."""


def table_name(target: str) -> str:
    """The price table a target's compute and storage come from."""
    return target if target in ("sagemaker", "vertex") else "kubernetes"


def region_of(target: str, project: ir.Project) -> str | None:
    return thaw(project.target_settings(target)).get("region") if target in ("sagemaker", "vertex") else None


def _factor(table: dict, region: str | None) -> tuple[float, str]:
    if not region or region == table.get("region"):
        return 1.0, ""
    factors = table.get("region_factors") or {}
    if region in factors:
        return float(factors[region]), f"{region} at {factors[region]:g}x {table['region']} rates"
    return 1.0, f"{region} priced at {table['region']} rates (no factor in the table)"


def rate(target: str, res: ir.Resources, use: str, project: ir.Project, book: PriceBook) -> Rate:
    """The hourly rate of `res` used for `use` (training, processing or serving) on `target`."""
    # many steps share a shape: remember each rate per book (the target's settings are in the key)
    key = (target, res.cpu, res.memory_bytes, res.gpu_count, res.gpu_type, use, project.target_settings(target))
    if key not in book.rates:
        if target == "sagemaker":
            book.rates[key] = _sagemaker(res, use, project, book)
        elif target == "vertex":
            book.rates[key] = _vertex(res, use, project, book)
        else:
            book.rates[key] = _node_share(res, book.table("kubernetes"), target)
    return book.rates[key]


def _sagemaker(res: ir.Resources, use: str, project: ir.Project, book: PriceBook) -> Rate:
    from mlopsc.targets.sagemaker import instance_types

    table = book.table("sagemaker")
    overrides = thaw(project.target_settings("sagemaker")).get("instance_types") or {}
    name = instance_types.choose(res, use, overrides)
    price = (table.get("instances") or {}).get(name) if name else None
    if price is None:
        raise NoPrice(f"no SageMaker price for {name or instance_types.describe(res)}")
    factor = _factor(table, region_of("sagemaker", project))[0]
    return Rate(name, round(price * factor, 6), float(table.get("spot_discount", 0.0)))


def _vertex(res: ir.Resources, use: str, project: ir.Project, book: PriceBook) -> Rate:
    from mlopsc.targets.vertex import machines

    table = book.table("vertex")
    key = {"serving": None}.get(use, use)
    override = (thaw(project.target_settings("vertex")).get("machine_types") or {}).get(key) if key else None
    machine = machines.KNOWN.get(override) if override else machines.machine_for(res)
    price = (table.get("machines") or {}).get(machine.name) if machine else None
    if machine is None or price is None:
        raise NoPrice(f"no Vertex price for {machine.name if machine else 'the resources'}")
    name, acc = machine.name, machines.accelerator(res)
    if acc in machines.ATTACHED_GPU:
        acc_price = (table.get("accelerators") or {}).get(acc)
        if acc_price is None:
            raise NoPrice(f"no Vertex price for accelerator {acc}")
        price += acc_price * res.gpu_count
        name += f" + {res.gpu_count} x {acc}"
    factor = _factor(table, region_of("vertex", project))[0]
    return Rate(name, round(price * factor, 6), float(table.get("spot_discount", 0.0)))


def _fits(node: dict, res: ir.Resources) -> bool:
    if node["cpu"] < res.cpu or node["memory_gib"] * GIB < res.memory_bytes:
        return False
    if res.gpu_count:
        return node.get("gpu_type") == res.gpu_type and node.get("gpu_count", 0) >= res.gpu_count
    return not node.get("gpu_count")


def _node_share(res: ir.Resources, table: dict, target: str) -> Rate:
    """The pod's share of the cheapest fitting node: the largest of its cpu, memory and GPU shares."""
    shares = sorted((round(n["usd_per_hour"] * _share(n, res), 6), n["usd_per_hour"], name, _share(n, res))
                    for name, n in (table.get("nodes") or {}).items() if _fits(n, res))
    if not shares:
        raise NoPrice("no node in the Kubernetes node table fits the resources")
    hourly, _, name, share = shares[0]  # the cheapest share; a tie goes to the smaller node
    return Rate(f"{share:.3g} x {name}", hourly, float(table.get("spot_discount", 0.0)))


def _share(node: dict, res: ir.Resources) -> float:
    return min(1.0, max(res.cpu / node["cpu"], res.memory_bytes / (node["memory_gib"] * GIB),
                        res.gpu_count / node["gpu_count"] if res.gpu_count else 0.0))


def replica_floor(target: str, res: ir.Resources, scaling: ir.Autoscaling) -> tuple[int, str]:
    """The fewest replicas the target really runs, and why when it is not the spec's."""
    if target == "sagemaker" and scaling.scales_to_zero:
        from mlopsc.targets.sagemaker.serving import SERVERLESS_MAX_MB

        if res.gpu_count or res.memory_bytes > SERVERLESS_MAX_MB * 2**20:
            return 1, "SageMaker keeps one instance (serverless inference has no GPUs and at most 6 GiB)"
    return scaling.min_replicas, ""


def notes(target: str, project: ir.Project, book: PriceBook) -> list[str]:
    """What the whole estimate assumes about this target's rates."""
    if target in NODE_TABLE_TARGETS:
        local = " (a local run is priced as if on that cluster)" if target == "local" else ""
        text = ("a pod pays its share of the cheapest fitting node of the Kubernetes node table: the largest of "
                f"its cpu, memory and GPU fractions{local}")
        return [text]
    table = book.table(target)
    note = _factor(table, region_of(target, project))[1]
    return [note] if note else [f"{table['region']} rates"]
