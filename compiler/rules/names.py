"""E628-E629: the deployment's resource names, as each target the spec is for writes them
(compiler/resource_names.py), must be distinct and within the platform's length limit."""

from __future__ import annotations

from .. import ir
from ..resource_names import deployment_names
from .report import Report

ALL_TARGETS = ("kubeflow", "local", "sagemaker", "vertex")


def spec_targets(r: Report) -> list[str]:
    """The targets a `targets:` section names, else every built-in one."""
    section = r.doc.data.get("targets")
    return sorted(section) if isinstance(section, dict) and section else list(ALL_TARGETS)


def resource_names(p: ir.Project, r: Report) -> None:
    """E628 two environments get the same name on a platform; E629 a name longer than it allows."""
    if not p.deployment or not p.deployment.environments:
        return
    envs = {e.name: e for e in p.deployment.environments}
    names = deployment_names(p.name, p.registry.model, [(e.name, e.strategy.type) for e in envs.values()],
                             spec_targets(r))
    seen: dict[tuple[str, str], object] = {}
    for n in names:
        span = envs[n.environment].span
        other = seen.setdefault((n.target, n.name), n)
        if other is not n and other.environment != n.environment:
            r.error(span, "E628", f"on {n.target}, environment `{other.environment}`'s {other.kind} and "
                    f"`{n.environment}`'s {n.kind} are both named `{n.name}`", _collision_hint(n, other), key=True)
        elif len(n.name) > n.limit:
            r.error(span, "E629", f"on {n.target}, the {n.kind} name `{n.name}` has {len(n.name)} characters; "
                    f"the limit is {n.limit}", _length_hint(n), key=True)


def _length_hint(n) -> str:
    why = ("KServe adds `-predictor` for its Service, whose name Kubernetes limits to 63 characters; "
           if n.target == "kubeflow" else "")
    return why + "shorten the environment name, the project name or `registry.model`"


def _collision_hint(n, other) -> str:
    if n.full != n.name or other.full != other.name:
        return (f"{n.target} cuts names to {n.limit} characters; shorten the project name or make the "
                "environment names differ in their first characters")
    return "rename one of the environments"


RULES = (resource_names,)
