"""The Kubeflow rollout step for `strategy: shadow` (see `targets/kubeflow/shadow.py`).

The champion InferenceService is left alone: it answers every request. The step applies the
challenger InferenceService (`<model>-<env>-shadow`, RawDeployment) with the new `storageUri`,
waits until it is Ready, applies the Istio VirtualService that mirrors `sample` of the traffic to
it, waits `duration`, reads the challenger's error rate and p99 from Prometheus (`{revision}` in
the queries is the challenger's name: a RawDeployment has no Knative revision) and removes the
mirror and the challenger again. A shadow never promotes by itself: a passed window completes
with the verdict `passed`; a breach, a challenger that never becomes Ready or a Prometheus that
does not answer fails the step (one line), the champion having served every response.
"""

from __future__ import annotations

import time

from mlopsc.runtime.platforms.kserve_rollout import KServeRollout, RolledBack, Walk
from mlopsc.runtime.platforms.kserve_status import is_ready, predictor_status, with_storage_uri
from mlopsc.runtime.platforms.promql import PrometheusQueryError, PrometheusUnavailable
from mlopsc.runtime.rollout import breached_rule
from mlopsc.runtime.steps import StepFailed

ISTIO = ("networking.istio.io/v1", "virtualservices")


class ShadowRollout:
    def __init__(self, rollout: KServeRollout):
        self.rollout = rollout
        self.kube, self.environment = rollout.kube, rollout.environment
        self.istio = rollout.kube.for_kind(*ISTIO)

    def run(self, champion: str, challenger: dict, mirror: dict, storage_uri: str, walk: Walk) -> dict:
        name = challenger["metadata"]["name"]
        self.kube.apply(with_storage_uri(challenger, storage_uri))
        self.rollout.event("applied", f"challenger {name} with {storage_uri}")
        try:
            self.wait_ready(name)
            self.istio.apply(mirror)
            self.rollout.event("step", f"mirroring to {name} for {walk.interval_s:g}s")
            self.rollout.sleep(walk.interval_s)
            tripped = self.judge(name, walk)
        except StepFailed as e:
            self.tear_down(name, mirror)
            raise RolledBack(f"{self.environment}: shadow stopped: {e}; the mirror and challenger {name} are "
                             "removed, the champion served every response") from None
        self.tear_down(name, mirror)
        if tripped:
            self.rollout.event("rollback", tripped)
            raise RolledBack(f"{self.environment}: shadow of {storage_uri} failed: challenger {name} broke its rollback rule: {tripped}; "
                             "the mirror and the challenger are removed, the champion served every response")
        self.rollout.event("completed", "shadow window passed; the champion keeps serving")
        return {**self.rollout.result(self.kube.get(champion), "completed", candidate=name), "verdict": "passed"}

    def wait_ready(self, name: str) -> None:
        deadline = time.monotonic() + self.rollout.ready_timeout_s
        while True:
            isvc = self.kube.get(name) or {}
            if is_ready(isvc) and predictor_status(isvc).get("latestReadyRevision"):
                self.rollout.event("ready", f"challenger {name} is Ready")
                return
            if time.monotonic() >= deadline:
                raise StepFailed(f"challenger {name} did not become Ready within {self.rollout.ready_timeout_s:g}s")
            self.rollout.sleep(self.rollout.poll_s)

    def judge(self, name: str, walk: Walk) -> str | None:
        try:
            error_rate, p99 = self.rollout.metrics.read(name, self.kube.namespace, walk.interval_s)
        except (PrometheusUnavailable, PrometheusQueryError) as e:
            raise StepFailed(f"cannot judge challenger {name}: {e}") from None
        self.rollout.event("measured", f"challenger {name}: error rate {error_rate}, p99 {p99} ms",
                           error_rate=error_rate, p99_latency_ms=p99)
        return breached_rule(walk.rule, error_rate, p99)

    def tear_down(self, name: str, mirror: dict) -> None:
        self.istio.delete(mirror["metadata"]["name"])
        self.kube.delete(name)
        self.rollout.event("removed", f"mirror {mirror['metadata']['name']} and challenger {name}")
