"""The Kubeflow rollout step: apply a KServe InferenceService and walk its canary.

`KServeRollout.deploy(manifest, storage_uri, walk)`:

1. The environment's InferenceService does not exist yet: create it with all traffic on the
   model (nothing to compare with), wait until Ready.
2. It exists and already serves `storage_uri`: up to date, nothing changes.
3. Otherwise replace its spec with the new `storageUri` and the walk's first
   `canaryTrafficPercent`; KServe creates a new revision and keeps the previous rolled-out one
   serving the rest. Wait until the new revision is Ready; then for each step set the
   percentage, wait the step's interval and read the new revision's error rate and p99 latency
   from Prometheus (`Metrics`); `rollout.breached_rule` decides. A breach, a revision that never
   becomes Ready, or a Prometheus that does not answer rolls back: `canaryTrafficPercent: 0`,
   the previous revision serves everything, and the step fails with one line naming the
   environment, the rule and the revision still serving. Passing every step promotes: the field
   is removed, the new revision takes all traffic.

A/B keeps its split for one window and then returns traffic to the champion with a verdict
(KServe has no sticky split of its own to leave behind); blue/green is a walk of one 100% step
after green came up at 0%.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mlopsc import ir
from mlopsc.runtime.platforms.kserve_api import KubeClient
from mlopsc.runtime.platforms.kserve_status import (
    canary_percent,
    is_ready,
    predictor_status,
    serving_revision,
    storage_uri_of,
    with_canary,
    with_storage_uri,
)
from mlopsc.runtime.platforms.promql import PrometheusQueryError, PrometheusUnavailable, query_scalar
from mlopsc.runtime.rollout import breached_rule
from mlopsc.runtime.steps import StepFailed

# Knative's queue-proxy sidecar measures every KServe Serverless revision, whatever the runtime
# inside: requests by response code class, and latency in milliseconds.
KNATIVE_ERROR_RATE = (
    '(sum(rate(revision_app_request_count{namespace_name="{namespace}",revision_name="{revision}",'
    'response_code_class="5xx"}[{window}s])) or on() vector(0)) / '
    'sum(rate(revision_app_request_count{namespace_name="{namespace}",revision_name="{revision}"}[{window}s]))')
KNATIVE_P99_MS = (
    'histogram_quantile(0.99, sum by (le) (rate(revision_app_request_latencies_bucket{namespace_name="{namespace}",'
    'revision_name="{revision}"}[{window}s])))')


@dataclass(frozen=True)
class Walk:
    """What the rollout step walks: canary percentages (the last promotes), seconds per step."""

    strategy: str
    steps: tuple[int, ...]
    interval_s: float
    rule: ir.Rollback | None = None


@dataclass(frozen=True)
class Metrics:
    """Where a revision's error rate and p99 (ms) come from: PromQL templates with `{revision}`,
    `{namespace}` and `{window}` (seconds) filled in."""

    prometheus: str
    error_rate_query: str = KNATIVE_ERROR_RATE
    p99_ms_query: str = KNATIVE_P99_MS
    min_window_s: int = 60  # a rate needs several scrapes inside its window
    headers: dict[str, str] = field(default_factory=dict)

    def read(self, revision: str, namespace: str, seconds: float) -> tuple[float | None, float | None]:
        window = str(max(int(seconds), self.min_window_s))

        def fill(template: str) -> str:
            return (template.replace("{revision}", revision).replace("{namespace}", namespace)
                    .replace("{window}", window))

        error_rate = query_scalar(self.prometheus, fill(self.error_rate_query), headers=self.headers)
        p99 = query_scalar(self.prometheus, fill(self.p99_ms_query), headers=self.headers)
        return error_rate, p99


class RolledBack(StepFailed):
    """The rollout stopped and traffic went back to the previous revision."""


class KServeRollout:
    def __init__(self, kube: KubeClient, environment: str, metrics: Metrics, *,
                 log: Callable[[str], None] = print, ready_timeout_s: float = 600.0, poll_s: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.kube, self.environment, self.metrics, self.log = kube, environment, metrics, log
        self.ready_timeout_s, self.poll_s, self.sleep = ready_timeout_s, poll_s, sleep
        self.history: list[dict] = []

    def deploy(self, manifest: dict, storage_uri: str, walk: Walk) -> dict:
        name = manifest["metadata"]["name"]
        desired = with_storage_uri(manifest, storage_uri)
        current = self.kube.get(name)
        if current is None:
            return self.first_deployment(with_canary(desired, None))
        previous = serving_revision(current)
        if storage_uri_of(current) == storage_uri and is_ready(current) and canary_percent(current) is None:
            self.log(f"{self.environment}: {name} already serves {storage_uri} (revision {previous}); up to date")
            return self.result(current, "up_to_date", previous=previous)
        if previous is None:  # it exists but never served: nothing to protect, replace it outright
            return self.first_deployment(with_canary(desired, None), current)
        first = walk.steps[0] if walk.strategy != "direct" else None
        body = with_canary(desired, 0 if walk.strategy == "blue_green" else first)
        body["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
        self.kube.replace(body)
        self.event("applied", f"{storage_uri} as a new revision beside {previous}")
        candidate = self.wait_ready(name, previous, walk)
        if walk.strategy == "direct":
            return self.result(self.kube.get(name), "deployed", previous=previous, candidate=candidate)
        return self.walk(name, walk, previous, candidate)

    # -- the steps

    def first_deployment(self, body: dict, existing: dict | None = None) -> dict:
        name = body["metadata"]["name"]
        if existing is None:
            self.kube.create(body)
        else:
            body["metadata"]["resourceVersion"] = existing["metadata"].get("resourceVersion")
            self.kube.replace(body)
        self.event("applied", f"first deployment of {name}: all traffic on it")
        candidate = self.wait_ready(name, None, None)
        return self.result(self.kube.get(name), "deployed", candidate=candidate)

    def wait_ready(self, name: str, previous: str | None, walk: Walk | None) -> str:
        """The new revision's name once the InferenceService is Ready on it."""
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            isvc = self.kube.get(name) or {}
            status = predictor_status(isvc)
            latest = status.get("latestReadyRevision")
            if is_ready(isvc) and latest and latest != previous:
                self.event("ready", f"revision {latest} is Ready")
                return latest
            if time.monotonic() >= deadline:
                why = _not_ready_reason(isvc)
                if previous is None:
                    raise StepFailed(f"{self.environment}: InferenceService {name} did not become Ready within "
                                     f"{self.ready_timeout_s:g}s ({why}); there is no previous revision to serve")
                self.roll_back(name, previous, f"InferenceService {name} did not become Ready within "
                                              f"{self.ready_timeout_s:g}s ({why})")
            self.sleep(self.poll_s)

    def walk(self, name: str, walk: Walk, previous: str, candidate: str) -> dict:
        for i, percent in enumerate(walk.steps):
            if i > 0 or walk.strategy == "blue_green":
                self.kube.patch(name, {"spec": {"predictor": {"canaryTrafficPercent": percent}}})
            self.event("step", f"revision {candidate} at {percent}% of traffic for {walk.interval_s:g}s")
            self.sleep(walk.interval_s)
            self.check(name, walk, previous, candidate, percent)
        if walk.strategy == "ab_test":
            self.kube.patch(name, {"spec": {"predictor": {"canaryTrafficPercent": 0}}})
            self.event("completed", f"A/B window passed; traffic back on {previous}")
            return self.result(self.kube.get(name), "completed", previous=previous, candidate=candidate)
        self.kube.patch(name, {"spec": {"predictor": {"canaryTrafficPercent": None}}})
        self.event("promote", f"revision {candidate} promoted: it serves all traffic")
        return self.result(self.kube.get(name), "promoted", previous=previous, candidate=candidate)

    def check(self, name: str, walk: Walk, previous: str, candidate: str, percent: int) -> None:
        try:
            error_rate, p99 = self.metrics.read(candidate, self.kube.namespace, walk.interval_s)
        except (PrometheusUnavailable, PrometheusQueryError) as e:
            self.roll_back(name, previous, f"cannot judge revision {candidate} at {percent}%: {e}")
        measured = {"error_rate": error_rate, "p99_latency_ms": p99}
        self.event("measured", f"revision {candidate} at {percent}%: error rate {_fmt(error_rate)}, "
                               f"p99 {_fmt(p99)} ms", **measured)
        if error_rate is None and p99 is None:
            self.log(f"  no requests reached revision {candidate} during the step: the rules were not evaluated")
        tripped = breached_rule(walk.rule, error_rate, p99)
        if tripped:
            self.roll_back(name, previous, f"revision {candidate} at {percent}% broke its rollback rule: {tripped}")

    def roll_back(self, name: str, previous: str, reason: str) -> None:
        self.kube.patch(name, {"spec": {"predictor": {"canaryTrafficPercent": 0}}})
        serving = serving_revision(self.kube.get(name) or {}) or previous
        self.event("rollback", reason)
        raise RolledBack(f"{self.environment}: rolled back: {reason}; canaryTrafficPercent is 0 and the previous "
                         f"revision {serving} serves all traffic")

    # -- reporting

    def event(self, kind: str, message: str, **extra: object) -> None:
        self.history.append({"event": kind, "message": message, **extra})
        self.log(f"  {kind}: {message}")

    def result(self, isvc: dict | None, state: str, **revisions: str | None) -> dict:
        status = predictor_status(isvc or {})
        address = ((isvc or {}).get("status") or {}).get("address") or {}
        endpoint = address.get("url") or ((isvc or {}).get("status") or {}).get("url") or ""
        return {"endpoint": endpoint, "state": state, "revision": status.get("latestReadyRevision"),
                **revisions, "history": list(self.history)}


def _not_ready_reason(isvc: dict) -> str:
    for c in (isvc.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("message") or c.get("reason") or f"Ready={c.get('status')}"
    return "no Ready condition reported"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


__all__ = ["KNATIVE_ERROR_RATE", "KNATIVE_P99_MS", "KServeRollout", "Metrics", "RolledBack", "Walk"]
