"""Reading and editing an InferenceService document (serving.kserve.io/v1beta1) as the rollout
step needs: the predictor's status fields KServe reports, and the spec fields the step sets."""

from __future__ import annotations

import copy
from typing import Any

STORAGE_URI_ENV = "STORAGE_URI"  # KServe's storage initializer reads it on a custom container


def predictor_status(isvc: dict) -> dict:
    return ((isvc.get("status") or {}).get("components") or {}).get("predictor") or {}


def is_ready(isvc: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (isvc.get("status") or {}).get("conditions") or [])


def serving_revision(isvc: dict) -> str | None:
    """The revision with the largest share of traffic (the stable one while a canary runs)."""
    status = predictor_status(isvc)
    traffic = [t for t in status.get("traffic") or [] if t.get("revisionName")]
    if traffic:
        return max(traffic, key=lambda t: t.get("percent") or 0)["revisionName"]
    return status.get("latestRolledoutRevision") or status.get("latestReadyRevision")


def traffic_percent(isvc: dict, revision: str) -> int:
    return sum(t.get("percent") or 0 for t in predictor_status(isvc).get("traffic") or []
               if t.get("revisionName") == revision)


def canary_percent(isvc: dict) -> int | None:
    return ((isvc.get("spec") or {}).get("predictor") or {}).get("canaryTrafficPercent")


def storage_uri_of(isvc: dict) -> str | None:
    predictor = (isvc.get("spec") or {}).get("predictor") or {}
    if "model" in predictor:
        return predictor["model"].get("storageUri")
    for container in predictor.get("containers") or []:
        for env in container.get("env") or []:
            if env.get("name") == STORAGE_URI_ENV:
                return env.get("value")
    return None


def with_storage_uri(manifest: dict, uri: str) -> dict:
    """A copy of `manifest` whose predictor loads the model from `uri` (KServe mounts it at
    /mnt/models: `model.storageUri`, or `STORAGE_URI` on a custom container)."""
    out = copy.deepcopy(manifest)
    predictor = out["spec"]["predictor"]
    if "model" in predictor:
        predictor["model"]["storageUri"] = uri
    else:
        container = predictor["containers"][0]
        env = [e for e in container.get("env") or [] if e.get("name") != STORAGE_URI_ENV]
        container["env"] = [*env, {"name": STORAGE_URI_ENV, "value": uri}]
    return out


def with_canary(manifest: dict, percent: int | None) -> dict:
    out = copy.deepcopy(manifest)
    predictor: dict[str, Any] = out["spec"]["predictor"]
    predictor.pop("canaryTrafficPercent", None)
    if percent is not None:
        predictor["canaryTrafficPercent"] = percent
    return out
