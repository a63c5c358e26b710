"""The consequence of a change to a spec: which lifecycle stages must run again.

One table, most specific path prefix first. A rule names the area of the lifecycle the change
touches, the stages that re-run (in lifecycle order), and a short reason a reviewer reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Stages in lifecycle order; a plan lists the union of its changes' stages in this order.
STAGES = ("rebuild-image", "revalidate", "retrain", "re-evaluate", "redeploy", "monitor")
_FULL = ("revalidate", "retrain", "re-evaluate")


@dataclass(frozen=True)
class Consequence:
    area: str  # data, features, training, evals, deployment, monitoring, metadata, ...
    stages: tuple[str, ...]  # empty: no run
    reason: str
    target: str | None = None  # a `targets.<name>` change regenerates that target only

    @property
    def summary(self) -> str:
        if self.target:
            return f"no run; regenerate `{self.target}` only"
        if not self.stages:
            return "no run"
        extra = ", no retraining" if "redeploy" in self.stages and "retrain" not in self.stages else ""
        if self.stages == ("re-evaluate",):
            extra = " only"
        if self.stages == ("monitor",):
            return "monitor only"
        return ", ".join(self.stages) + extra


# (path prefix, area, stages, reason); the longest matching prefix wins.
_RULES: list[tuple[tuple[str, ...], str, tuple[str, ...], str]] = [
    (("apiVersion",), "metadata", (), "the language version"),
    (("name",), "identity", _FULL + ("redeploy", "monitor"),
     "the project name names every pipeline, model and endpoint"),
    (("description",), "metadata", (), "metadata"),
    (("owner",), "metadata", (), "metadata"),
    (("labels",), "metadata", (), "metadata"),
    (("image",), "image", ("rebuild-image",) + _FULL, "every step runs in this image"),
    (("data",), "data", _FULL, "the data changes what is validated and learned"),
    (("features",), "features", _FULL, "features change what the model learns"),
    (("training",), "training", ("retrain", "re-evaluate"), "training produces the model"),
    (("training", "resources"), "training", ("retrain", "re-evaluate"),
     "compute for the next training run; the model itself should not change"),
    (("training", "spot"), "training", ("retrain", "re-evaluate"),
     "compute for the next training run; the model itself should not change"),
    (("training", "max_runtime"), "training", ("retrain", "re-evaluate"),
     "compute for the next training run; the model itself should not change"),
    (("tracking",), "tracking", (), "where runs are recorded; applies to the next run"),
    (("evals",), "evals", ("re-evaluate",), "the gate the current model must pass"),
    (("registry",), "registry", ("redeploy",), "registration and approval of the model"),
    (("registry", "approval"), "approval", ("redeploy",), "who approves a deployment"),
    (("deployment",), "deployment", ("redeploy",), "serving and rollout"),
    (("monitoring",), "monitoring", ("monitor",), "the scheduled monitor pipeline"),
    (("triggers",), "triggers", (), "when future runs start"),
    (("cost",), "cost", (), "budget and alerts"),
    (("llm",), "llm", _FULL, "the model"),
    (("llm", "prompts"), "llm", ("re-evaluate", "redeploy"), "prompts change answers, not weights"),
    (("llm", "base_model"), "training", ("retrain", "re-evaluate"), "the base model is fine-tuned again"),
    (("llm", "fine_tune"), "training", ("retrain", "re-evaluate"), "fine-tuning produces the model"),
    (("llm", "fine_tune", "dataset"), "data", _FULL, "the fine-tuning data changes"),
    (("llm", "serving"), "deployment", ("redeploy",), "serving of the model"),
    (("llm", "gateway"), "deployment", ("redeploy",), "the gateway in front of the models"),
    (("targets",), "targets", (), "settings of one platform"),
]


def classify(path: tuple[Any, ...], old: Any = None, new: Any = None) -> Consequence:
    """The consequence of changing the value at `path` (old and new values name the targets
    when the whole `targets` section is added, removed or changed)."""
    keys = tuple(p for p in path if isinstance(p, str))
    if keys[:1] == ("targets",):
        if len(keys) >= 2:
            return Consequence("targets", (), f"settings of `{keys[1]}` only", target=keys[1])
        names = sorted(set(old if isinstance(old, dict) else ()) | set(new if isinstance(new, dict) else ()))
        return Consequence("targets", (), "platform settings", target=", ".join(names) or None)
    best = None
    for prefix, area, stages, reason in _RULES:
        if keys[: len(prefix)] == prefix and (best is None or len(prefix) > len(best[0])):
            best = (prefix, area, stages, reason)
    if best is None:
        return Consequence("other", (), "not part of the lifecycle")
    return Consequence(best[1], best[2], best[3])


def ordered(stages: set[str]) -> list[str]:
    return [s for s in STAGES if s in stages]
