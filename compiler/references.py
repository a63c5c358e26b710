"""`${env:NAME}` references in a spec, found once over the IR (the secret references have their
own walk in the KFP builder, which only maps whole-value secrets)."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator

from .contract import REF

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

# Names a target can carry as a run parameter and an environment variable on every platform.
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif (names := _walked_fields(type(value))) is not None:
        for name in names:
            yield from _strings(getattr(value, name))
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


@functools.cache
def _walked_fields(cls: type) -> tuple[str, ...] | None:
    """The fields of an IR class to look into (None for anything else), once per class."""
    if not dataclasses.is_dataclass(cls):
        return None
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("pipelines", "targets", "span"))


def env_refs(project: Any) -> list[str]:
    """Every `${env:NAME}` the spec uses (sorted, once each). Cloud steps get each as a run
    parameter: the value the step's process sees is the one the run was started with."""
    names = {m.group(2) for s in _strings(project) for m in REF.finditer(s) if m.group(1) == "env"}
    return sorted(n for n in names if ENV_NAME.match(n))
