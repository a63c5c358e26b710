"""The Kubeflow rollout step's controller against a Kubernetes API on 127.0.0.1 (every stored body
validated against the KServe CRD), with metrics from Debian's real Prometheus scraping two real
model servers (`runtime/serving.py`) that stand in for the previous and the candidate revision and
really serve the traffic this test drives, split as the fake API's status says."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack, contextmanager

import pytest
from kube_fake import FakeKServe, serve
from mlopsc import ir
from mlopsc.runtime.httpbase import Upstream
from mlopsc.runtime.platforms.kserve_api import KubeClient
from mlopsc.runtime.platforms.kserve_rollout import KServeRollout, Metrics, RolledBack, Walk
from mlopsc.runtime.platforms.kserve_status import canary_percent, serving_revision, traffic_percent
from mlopsc.runtime.platforms.promql import query_scalar
from mlopsc.runtime.serving import ModelServer
from mlopsc.targets.kubeflow.kserve import inference_service
from servers import free_port, prometheus_server

pytestmark = pytest.mark.slow

NS, NAME = "ml", "churn-classifier-production"
OLD_URI, NEW_URI = "s3://acme-ml-artifacts/models/churn/3", "s3://acme-ml-artifacts/models/churn/4"
REV1, REV2 = f"{NAME}-predictor-00001", f"{NAME}-predictor-00002"
# the model servers label their metrics with the model name: here, the revision each stands for
ERROR_RATE = ('(sum(rate(mlopsc_requests_total{model="{revision}",path="/predict",status=~"5.."}[{window}s])) '
              'or on() vector(0)) / sum(rate(mlopsc_requests_total{model="{revision}",path="/predict"}[{window}s]))')
P99_MS = ('1000 * histogram_quantile(0.99, sum by (le) '
          '(rate(mlopsc_request_duration_seconds_bucket{model="{revision}"}[{window}s])))')
RULE = ir.Rollback(max_error_rate=0.05, max_p99_latency_ms=150)
WALK = Walk("canary", (25, 50, 100), interval_s=4, rule=RULE)


@pytest.fixture
def production(projects):
    env = next(e for e in projects["churn"].deployment.environments if e.name == "production")
    manifest = inference_service(projects["churn"], env)
    assert manifest["metadata"]["name"] == NAME and manifest["metadata"]["namespace"] == NS
    return manifest


def healthy(instances):
    return [0.5] * len(instances)


def erroring(instances):
    raise RuntimeError("feature tenure_months missing")


def slow(instances):
    time.sleep(0.4)
    return [0.5] * len(instances)


class Traffic:
    """Requests at the InferenceService, each answered by the revision the fake API's traffic
    split picks (as Knative's router does); counts who answered."""

    def __init__(self, fake: FakeKServe, servers: dict[str, str]):
        self.fake, self.servers = fake, servers
        self.answered: dict[str, int] = {}
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(4)]

    def run(self):
        client = Upstream(timeout=10)
        while not self.stop.is_set():
            self.send(client)
            time.sleep(0.01)

    def send(self, client):
        revision = self.fake.route(NS, NAME)
        client.request("POST", self.servers[revision] + "/predict", b'{"instances": [{"tenure_months": 3}]}',
                       {"Content-Type": "application/json"})
        self.answered[revision] = self.answered.get(revision, 0) + 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)


@contextmanager
def cluster(isvc_schema, production, challenger_model, **fake_kwargs):
    """The fake API with the InferenceService serving OLD_URI as REV1, a model server per revision,
    Prometheus scraping both, and traffic flowing."""
    fake = FakeKServe(isvc_schema, **fake_kwargs)
    fake.seed(production, OLD_URI)
    with ExitStack() as stack:
        champion = ModelServer(healthy, name=REV1).start()
        stack.callback(champion.stop)
        challenger = ModelServer(challenger_model, name=REV2).start()
        stack.callback(challenger.stop)
        targets = [s.url.removeprefix("http://") for s in (champion, challenger)]
        prometheus = stack.enter_context(prometheus_server(targets))
        wait_scraping(prometheus, len(targets))
        api = stack.enter_context(serve(fake))
        traffic = stack.enter_context(Traffic(fake, {REV1: champion.url, REV2: challenger.url}))
        yield fake, api, prometheus, traffic


def wait_scraping(prometheus: str, targets: int) -> None:
    from mlopsc.runtime.platforms.promql import PrometheusUnavailable

    deadline = time.monotonic() + 60
    while True:
        try:
            if query_scalar(prometheus, "sum(up)") == targets:
                return
        except PrometheusUnavailable:  # still opening its storage
            pass
        assert time.monotonic() < deadline, "prometheus never scraped the model servers"
        time.sleep(0.3)


def controller(api, prometheus, log):
    metrics = Metrics(prometheus, ERROR_RATE, P99_MS, min_window_s=4)
    return KServeRollout(KubeClient(NS, api), "production", metrics, log=log.append, ready_timeout_s=20, poll_s=0.2)


def assert_every_body_valid(fake, isvc_schema):
    """Each stored object passed the CRD schema (the fake refuses others with 422); none was refused."""
    import jsonschema

    writes = [(m, b) for m, _, b in fake.requests if m in ("POST", "PUT", "PATCH")]
    assert writes
    for method, body in writes:
        if method != "PATCH":
            jsonschema.Draft7Validator(isvc_schema).validate(body)
    jsonschema.Draft7Validator(isvc_schema).validate(fake.get(NS, NAME))  # status included


def test_a_healthy_challenger_is_walked_through_every_step_and_promoted(isvc_schema, production):
    log: list[str] = []
    with cluster(isvc_schema, production, healthy) as (fake, api, prometheus, traffic):
        result = controller(api, prometheus, log).deploy(production, NEW_URI, WALK)
        after = fake.get(NS, NAME)
    assert result["state"] == "promoted" and result["candidate"] == REV2 and result["previous"] == REV1
    measured = [e for e in result["history"] if e["event"] == "measured"]
    assert len(measured) == 3 and all(e["error_rate"] == 0 and e["p99_latency_ms"] < 150 for e in measured)
    patches = [b["spec"]["predictor"]["canaryTrafficPercent"] for m, _, b in fake.requests if m == "PATCH"]
    assert patches == [50, 100, None]  # 25 went in with the new spec (PUT)
    put = next(b for m, _, b in fake.requests if m == "PUT")
    assert put["spec"]["predictor"]["canaryTrafficPercent"] == 25
    assert put["spec"]["predictor"]["model"]["storageUri"] == NEW_URI
    assert canary_percent(after) is None and serving_revision(after) == REV2 and traffic_percent(after, REV2) == 100
    assert traffic.answered.get(REV2, 0) > 20  # the candidate really served
    assert result["endpoint"] == f"http://{NAME}.{NS}.svc.cluster.local"
    assert_every_body_valid(fake, isvc_schema)


@pytest.mark.parametrize(("model", "rule"), [(erroring, "max_error_rate"), (slow, "max_p99_latency_ms")])
def test_a_bad_challenger_is_rolled_back_to_the_previous_revision(isvc_schema, production, model, rule):
    log: list[str] = []
    with cluster(isvc_schema, production, model) as (fake, api, prometheus, traffic):
        with pytest.raises(RolledBack) as caught:
            controller(api, prometheus, log).deploy(production, NEW_URI, WALK)
        after = fake.get(NS, NAME)
        time.sleep(0.6)  # requests routed before the rollback (a slow one takes 0.4 s) finish
        before = dict(traffic.answered)
        time.sleep(1.5)
        served_after = {r: traffic.answered.get(r, 0) - before.get(r, 0) for r in (REV1, REV2)}
    message = str(caught.value)
    assert "\n" not in message and message.startswith("production: rolled back:")
    assert "broke its rollback rule: " in message and rule in message
    assert f"previous revision {REV1} serves all traffic" in message
    assert canary_percent(after) == 0 and after["spec"]["predictor"]["model"]["storageUri"] == NEW_URI
    assert serving_revision(after) == REV1 and traffic_percent(after, REV1) == 100
    assert served_after[REV1] > 10 and served_after[REV2] == 0  # the champion answers everything again
    patches = [b["spec"]["predictor"]["canaryTrafficPercent"] for m, _, b in fake.requests if m == "PATCH"]
    assert patches == [0]  # tripped at the first step (25%), straight back
    assert_every_body_valid(fake, isvc_schema)


def test_an_inference_service_that_never_becomes_ready_rolls_back(isvc_schema, production):
    fake = FakeKServe(isvc_schema, never_ready={NEW_URI})
    fake.seed(production, OLD_URI)
    with serve(fake) as api:
        rollout = KServeRollout(KubeClient(NS, api), "production", Metrics(f"http://127.0.0.1:{free_port()}"),
                                log=[].append, ready_timeout_s=1.5, poll_s=0.1)
        with pytest.raises(RolledBack) as caught:
            rollout.deploy(production, NEW_URI, WALK)
        after = fake.get(NS, NAME)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("production: rolled back: InferenceService")
    assert "did not become Ready within 1.5s" in message and "model failed to load" in message
    assert f"previous revision {REV1} serves all traffic" in message
    assert canary_percent(after) == 0 and serving_revision(after) == REV1 and traffic_percent(after, REV1) == 100


def test_a_prometheus_that_does_not_answer_rolls_back(isvc_schema, production):
    fake = FakeKServe(isvc_schema)
    fake.seed(production, OLD_URI)
    silent = f"http://127.0.0.1:{free_port()}"
    with serve(fake) as api:
        rollout = KServeRollout(KubeClient(NS, api), "production", Metrics(silent), log=[].append,
                                ready_timeout_s=10, poll_s=0.05, sleep=lambda s: None)
        with pytest.raises(RolledBack) as caught:
            rollout.deploy(production, NEW_URI, WALK)
        after = fake.get(NS, NAME)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"production: rolled back: cannot judge revision {REV2} at 25%")
    assert f"metrics server {silent} does not answer" in message
    assert canary_percent(after) == 0 and serving_revision(after) == REV1


def test_first_deployment_creates_it_with_all_traffic_and_a_rerun_is_up_to_date(isvc_schema, production):
    fake = FakeKServe(isvc_schema)
    with serve(fake) as api:
        rollout = KServeRollout(KubeClient(NS, api), "production", Metrics("http://127.0.0.1:1"), log=[].append,
                                poll_s=0.01)
        first = rollout.deploy(production, OLD_URI, WALK)
        again = rollout.deploy(production, OLD_URI, WALK)
        after = fake.get(NS, NAME)
    assert first["state"] == "deployed" and first["candidate"] == REV1
    assert again["state"] == "up_to_date" and again["previous"] == REV1
    created = next(b for m, _, b in fake.requests if m == "POST")
    assert "canaryTrafficPercent" not in created["spec"]["predictor"]
    assert serving_revision(after) == REV1 and [m for m, _, _ in fake.requests].count("PUT") == 0


def test_a_body_the_crd_refuses_is_a_one_line_error(isvc_schema, production):
    fake = FakeKServe(isvc_schema)
    bad = {**production, "spec": {"predictor": {**production["spec"]["predictor"], "minReplicas": "one"}}}
    with serve(fake) as api:
        rollout = KServeRollout(KubeClient(NS, api), "production", Metrics("http://127.0.0.1:1"), log=[].append)
        with pytest.raises(Exception, match=r"answered HTTP 422: InferenceService .* is invalid: spec/predictor/"
                                            r"minReplicas") as caught:
            rollout.deploy(bad, OLD_URI, WALK)
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------- shadow

SHADOW = f"{NAME}-shadow"


class MirroredTraffic(Traffic):
    """Every request answered by the champion; while the fake API holds the mirror, a copy of
    each also goes to the challenger (Istio discards its answer)."""

    def send(self, client):
        body = b'{"instances": [{"tenure_months": 3}]}'
        client.request("POST", self.servers[REV1] + "/predict", body, {"Content-Type": "application/json"})
        self.answered[REV1] = self.answered.get(REV1, 0) + 1
        if self.fake.mirrors:
            client.request("POST", self.servers[SHADOW] + "/predict", body, {"Content-Type": "application/json"})
            self.answered[SHADOW] = self.answered.get(SHADOW, 0) + 1


@pytest.mark.parametrize("model", [healthy, erroring])
def test_a_shadow_mirrors_for_the_window_judges_the_challenger_and_removes_it(isvc_schema, projects, production,
                                                                              model):
    import dataclasses

    from mlopsc.runtime.platforms.kserve_shadow import ShadowRollout
    from mlopsc.targets.kubeflow import shadow

    project = projects["churn"]
    env = next(e for e in project.deployment.environments if e.name == "production")
    env = dataclasses.replace(env, strategy=dataclasses.replace(env.strategy, type="shadow", sample=1.0))
    fake = FakeKServe(isvc_schema)
    fake.seed(production, OLD_URI)
    walk = Walk("shadow", (0,), interval_s=4, rule=RULE)
    with ExitStack() as stack:
        champion = stack.enter_context(ModelServer(healthy, name=REV1).start())
        challenger = stack.enter_context(ModelServer(model, name=SHADOW).start())
        prometheus = stack.enter_context(prometheus_server([s.url.removeprefix("http://")
                                                            for s in (champion, challenger)]))
        wait_scraping(prometheus, 2)
        api = stack.enter_context(serve(fake))
        traffic = stack.enter_context(MirroredTraffic(fake, {REV1: champion.url, SHADOW: challenger.url}))
        run = ShadowRollout(controller(api, prometheus, []))
        args = (NAME, shadow.challenger_service(project, env), shadow.virtual_service(project, env), NEW_URI, walk)
        if model is healthy:
            result = run.run(*args)
        else:
            with pytest.raises(RolledBack) as caught:
                run.run(*args)
    assert traffic.answered.get(SHADOW, 0) > 10  # the mirror really carried traffic
    assert not fake.mirrors and (NS, SHADOW) not in fake.objects  # mirror and challenger removed
    champion_after = fake.get(NS, NAME)
    assert champion_after["spec"]["predictor"]["model"]["storageUri"] == OLD_URI
    assert serving_revision(champion_after) == REV1
    created = next(b for m, p, b in fake.requests if m == "POST" and p.endswith("/inferenceservices"))
    assert created["metadata"]["name"] == SHADOW and created["spec"]["predictor"]["model"]["storageUri"] == NEW_URI
    if model is healthy:
        assert result["state"] == "completed" and result["verdict"] == "passed"
    else:
        message = str(caught.value)
        assert "\n" not in message and message.startswith(f"production: shadow of {NEW_URI} failed")
        assert "broke its rollback rule: error rate" in message and "max_error_rate" in message
        assert "the champion served every response" in message


def test_the_default_queries_read_knative_queue_proxy_metrics(tmp_path):
    """The PromQL the rollout uses on a cluster, over series named and labelled as Knative's
    queue-proxy exports them (a request count by response code class, latencies in ms)."""
    from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server

    registry = CollectorRegistry()
    labels = ["namespace_name", "revision_name", "response_code_class"]
    count = Gauge("revision_app_request_count", "requests", labels, registry=registry)
    latency = Histogram("revision_app_request_latencies", "latency (ms)", ["namespace_name", "revision_name"],
                        buckets=(5, 10, 25, 50, 100, 250, 500, 1000), registry=registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    stop = threading.Event()

    def serve_traffic():  # revision 2: 1 in 10 answers is a 5xx, every answer takes ~30 ms
        while not stop.is_set():
            count.labels(NS, REV2, "2xx").inc(9)
            count.labels(NS, REV2, "5xx").inc(1)
            count.labels(NS, REV1, "2xx").inc(10)  # another revision's traffic does not count
            for _ in range(10):
                latency.labels(NS, REV2).observe(30)
                latency.labels(NS, REV1).observe(400)
            time.sleep(0.1)

    driver = threading.Thread(target=serve_traffic, daemon=True)
    driver.start()
    try:
        with prometheus_server([f"127.0.0.1:{port}"]) as prometheus:
            wait_scraping(prometheus, 1)
            time.sleep(5)
            error_rate, p99 = Metrics(prometheus, min_window_s=5).read(REV2, NS, 5)
            nothing = Metrics(prometheus, min_window_s=5).read(f"{NAME}-predictor-00009", NS, 5)
    finally:
        stop.set()
        driver.join(5)
        server.shutdown()
        thread.join(5)
    assert error_rate == pytest.approx(0.1, abs=0.02)
    assert 25 < p99 <= 50  # inside the bucket holding the 30 ms answers, not the other revision's 400 ms
    assert nothing == (None, None)
