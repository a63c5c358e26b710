"""The target registry: names -> target classes, found through the `mlopsc.targets` entry point group.

A target registers itself the way pytest plugins and dbt adapters do: an entry point in its
distribution's metadata, `[project.entry-points."mlopsc.targets"] name = "module:Class"`.
mlopsc declares its own four the same way, and also keeps them in `BUILTIN`, so compiling for a
built-in target never scans the installed distributions (`discover`, a few ms). The scan runs
only for a name that is not built in, `names()` (`mlopsc targets`, `--target all`) and `exists()`.
`--target all` compiles the targets the spec is configured for (`configured`).
Classes are imported lazily, so `mlopsc targets` stays fast.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from .base import OutputFile, SubmitNotSupported, Target

GROUP = "mlopsc.targets"

# name -> "module:Class" for the shipped targets, repeating pyproject.toml's entry points (a test
# checks): only a speed-up, so a new target needs just its entry point.
BUILTIN: dict[str, str] = {
    "kubeflow": "mlopsc.targets.kubeflow:KubeflowTarget",
    "local": "mlopsc.targets.local:LocalTarget",
    "sagemaker": "mlopsc.targets.sagemaker:SageMakerTarget",
    "vertex": "mlopsc.targets.vertex:VertexTarget",
}


class UnknownTarget(KeyError):
    """A name neither built in nor registered in the `mlopsc.targets` entry point group."""


@lru_cache(maxsize=1)
def registered() -> dict[str, str]:
    """Every target: the entry point group's, then the built-ins (a plugin cannot replace one)."""
    from .discover import entry_points

    return {**entry_points(GROUP), **BUILTIN}


def refresh() -> None:
    """Forget the scanned entry points (after installing a target into the running process)."""
    registered.cache_clear()


def names() -> list[str]:
    return sorted(registered())


def exists(name: str) -> bool:
    return name in BUILTIN or name in registered()


def configured(spec_path: str) -> list[str]:
    """What `--target all` compiles: every target whose required settings the spec gives (a target
    with no required settings always qualifies), and whose steps can share the spec's tracking
    store (a local-only spec skips the cloud targets). Every target when the spec itself does not
    load, so its errors are reported as for any compile."""
    from mlopsc import api
    from mlopsc.diagnostics import SpecError

    try:
        project = api.load_project(spec_path)
    except SpecError:
        return names()
    return configured_for(project)


def configured_for(project) -> list[str]:
    """`configured` for a spec already loaded (the CLI loads it once for every target)."""
    return [n for n in names() if not _settings_errors(get(n), project) and not _store_not_shared(get(n), project)]


def _settings_errors(target: Target, project) -> bool:
    return any(d.severity == "error" for d in target.settings(project)[1])


def _store_not_shared(target: Target, project) -> bool:
    from .cloud import local_store

    return target.needs_shared_tracking and local_store(project.tracking.uri)


def get(name: str) -> Target:
    spec = BUILTIN.get(name) or registered().get(name)
    if spec is None:
        raise UnknownTarget(f"unknown target `{name}`; registered: {', '.join(names())}")
    module, _, cls = spec.partition(":")
    return getattr(import_module(module), cls)()


def __getattr__(name: str):
    # The target interface loads on first use: the budget gate of `mlopsc validate` reads only the
    # instance and machine tables of two target packages, not the targets.
    if name in ("OutputFile", "SubmitNotSupported", "Target"):
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GROUP", "OutputFile", "SubmitNotSupported", "Target", "UnknownTarget", "configured", "configured_for", "exists", "get",
           "names"]
