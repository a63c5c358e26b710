"""The shared graph checker, plus what GCPC components use and Vertex fills in.

`kfp_ir.check` accepts `{{$.inputs.artifacts['x'].metadata}}` but not a key inside it
(`.metadata['resourceName']`, which every GCPC launcher reads); this wrapper reads such a
placeholder as `.metadata` on the same input and leaves every other rule to the shared checker.
"""

from __future__ import annotations

import re
from typing import Any

from mlopsc.targets.kfp_ir import check as kfp_check

_METADATA_KEY = re.compile(r"^(\.inputs\.artifacts\['[^']+'\]\.metadata)\['[^']+'\]$")


class _VertexChecker(kfp_check._Checker):
    def placeholder(self, where: str, comp: dict[str, Any], expr: str) -> None:
        m = _METADATA_KEY.match(expr)
        super().placeholder(where, comp, m.group(1) if m else expr)


def check(spec: dict[str, Any]) -> list[str]:
    """Problems in a single-document Vertex PipelineSpec dict; empty when the graph is sound."""
    return _VertexChecker(spec, None).run()
