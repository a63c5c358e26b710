"""The runtime's platforms: what differs at run time between the targets, behind one interface.

The compile side has one `Target` per platform (`targets/`); the run side has one `Platform`
per platform here (see `base.Platform`): where the tracking store is, how data and artifacts
are read and written, how a model is deployed and its rollout walked, how an endpoint is called
by the smoke and load tests, how approval is decided, how an alert is sent. Steps ask
`current(ctx)` for their platform and call it; nothing else in the runtime compares target
names.

    platform_for("sagemaker")   # -> an instance of mlopsc.runtime.platforms.sagemaker:Platform

The registry maps a target name to "module:Class" and imports the module on first use, so a
local run never imports boto3 and a SageMaker step never imports the local router.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlopsc.runtime.steps import StepFailed

if TYPE_CHECKING:
    from mlopsc.runtime.platforms.base import Platform

# target name -> "module:Class"; the compile side declares the same strings for its targets
REGISTRY: dict[str, str] = {
    "local": "mlopsc.runtime.platforms.local:Platform",
    "sagemaker": "mlopsc.runtime.platforms.sagemaker:Platform",
    "kubeflow": "mlopsc.runtime.platforms.kubeflow:Platform",
    "vertex": "mlopsc.runtime.platforms.vertex:Platform",
}


class UnknownPlatform(StepFailed):
    """No runtime platform is registered under that target name (a step stops with the message)."""


def names() -> list[str]:
    return sorted(REGISTRY)


def platform_class(name: str) -> type[Platform]:
    """The `Platform` class registered for target `name` (its module imported now)."""
    ref = REGISTRY.get(name)
    if ref is None:
        raise UnknownPlatform(f"no runtime platform for target {name!r}; known: {', '.join(names())}")
    module, _, cls = ref.partition(":")
    return getattr(importlib.import_module(module), cls)


def platform_for(name: str) -> Platform:
    return platform_class(name)()


def current(ctx: Any) -> Platform:
    """The platform the step runs on: the step contract's `--target`, carried as `ctx.target`."""
    return platform_for(ctx.target)


__all__ = ["REGISTRY", "UnknownPlatform", "current", "names", "platform_class", "platform_for"]
