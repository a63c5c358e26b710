"""Vertex AI at run time: tracking, data and alerts as every platform; approval through the
MLflow registry alias `approved-<environment>`. Deploying to the Vertex endpoint and walking its
traffic split inside a Vertex run is not implemented yet: the deploy, rollout, smoke and load
test steps stop with a message saying so."""

from __future__ import annotations

from mlopsc.runtime.platforms.base import RolloutNotImplemented


class Platform(RolloutNotImplemented):
    name = "vertex"
    mechanism = "deploying to the Vertex endpoint and walking its traffic split"
