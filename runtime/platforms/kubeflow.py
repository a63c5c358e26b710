"""Kubeflow at run time: tracking, data and alerts as every platform; approval through the
MLflow registry alias `approved-<environment>`. Applying the compiled KServe InferenceService
and walking its `canaryTrafficPercent` inside a Kubeflow run is not implemented yet: the deploy,
rollout, smoke and load test steps stop with a message saying so."""

from __future__ import annotations

from mlopsc.runtime.platforms.base import RolloutNotImplemented


class Platform(RolloutNotImplemented):
    name = "kubeflow"
    # The KFP backend reports the exit handler's DAG with its MLMD execution state (COMPLETE);
    # kfp.local, which runs the same IR, says SUCCEEDED.
    succeeded_states = frozenset({"COMPLETE", "SUCCEEDED"})
    mechanism = "applying the KServe InferenceService and walking canaryTrafficPercent"
