"""A small target for plan tests: its output is a pure function of the IR, owned by these tests,
so the golden plan does not move when a real target changes its output."""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar

from mlopsc import ir
from mlopsc.targets.base import OutputFile, Target


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "span"}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, ir.FrozenDict):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _json(value) -> str:
    return json.dumps(_plain(value), indent=2, sort_keys=True, default=str) + "\n"


class FakeTarget(Target):
    name = "fake"
    summary = "test target: JSON dumps of the IR"
    capabilities: ClassVar[dict[str, str]] = {"train pipeline": "train.json"}

    def files(self, project: ir.Project) -> list[OutputFile]:
        return [
            OutputFile("train.json", _json({"data": project.data, "features": project.features,
                                            "training": project.training, "evals": project.evals,
                                            "llm": project.llm})),
            OutputFile("deploy.json", _json({"registry": project.registry, "deployment": project.deployment})),
            OutputFile("monitor.json", _json(project.monitoring)),
            OutputFile("settings.json", _json(project.target_settings("local"))),
        ]
