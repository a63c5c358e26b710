"""`${env:NAME}` references in a spec, found once over the IR (the secret references have their
own walk in the KFP builder, which only maps whole-value secrets)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

from .contract import REF

# Names a target can carry as a run parameter and an environment variable on every platform.
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name not in ("pipelines", "targets", "span"):
                yield from _strings(getattr(value, f.name))
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def env_refs(project: Any) -> list[str]:
    """Every `${env:NAME}` the spec uses (sorted, once each). Cloud steps get each as a run
    parameter: the value the step's process sees is the one the run was started with."""
    names = {m.group(2) for s in _strings(project) for m in REF.finditer(s) if m.group(1) == "env"}
    return sorted(n for n in names if ENV_NAME.match(n))
