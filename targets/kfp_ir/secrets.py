"""`${secret:NAME}` references in the IR and which steps need them.

Convention (the runtime resolves `${secret:NAME}` from the environment variable below):
a Kubernetes Secret named NAME in DNS-1123 form (`openai_api_key` -> `openai-api-key`) with the
value under the key `value`, exposed to the step as the environment variable NAME in upper case
(`OPENAI_API_KEY`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from mlopsc import ir
from mlopsc.contract import WHOLE_SECRET as _REF
from mlopsc.contract import secret_env_var, secret_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

SECRET_KEY = "value"

# Steps that call hosted models through the gateway (LLM judges, quality checks, rollout smoke
# calls); tracking secrets go to every step because every step logs to the tracking server.
GATEWAY_ACTIONS = frozenset({"evaluate", "eval_suite", "llm_quality", "deploy", "rollout",
                             "smoke_test", "load_test"})


def _walk(value: Any, section: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        m = _REF.match(value)
        if m:
            yield section, m.group(1)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            if f.name != "pipelines":
                yield from _walk(getattr(value, f.name), section)
    elif isinstance(value, tuple):
        for v in value:
            yield from _walk(v, section)


_last: list[Any] = [None, []]  # the last project walked and its references (one walk per compile)


def secret_refs(project: ir.Project) -> list[tuple[str, str]]:
    """(section, NAME) for every secret reference, sorted, once."""
    if _last[0] is project:
        return _last[1]
    found = set()
    for f in dataclasses.fields(project):
        if f.name not in ("pipelines", "targets"):
            found.update(_walk(getattr(project, f.name), f.name))
    _last[:] = [project, sorted(found)]
    return _last[1]


def secrets_for_step(step: ir.Step, project: ir.Project) -> list[str]:
    names = {name for section, name in secret_refs(project)
             if section == "tracking" or step.action in GATEWAY_ACTIONS}
    return sorted(names)


def k8s_secret_name(name: str) -> str:
    return re.sub(r"[^a-z0-9.-]", "-", name.lower()).strip("-.")


def env_var(name: str) -> str:
    return secret_env_var(name)


__all__ = ["SECRET_KEY", "env_var", "k8s_secret_name", "secret_name", "secret_refs", "secrets_for_step"]
