import json
import time
import urllib.request

import pytest
from mlopsc import ir
from mlopsc.runtime.httpbase import Upstream
from mlopsc.runtime.rollout import Rollout, derive_window, p99
from mlopsc.runtime.router import Router
from mlopsc.runtime.serving import ModelServer


def model(tag, fail=False, sleep_s=0.0):
    def predict(rows):
        if sleep_s:
            time.sleep(sleep_s)
        if fail:
            raise RuntimeError("challenger is broken")
        return [tag for _ in rows]

    return predict


@pytest.fixture
def servers():
    started = []

    def make(tag, **kw):
        s = ModelServer(model(tag, **kw), name=tag).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


def send(router_url, n, client=None):
    """Send n predictions; return [(status, variant, answer)]."""
    client = client or Upstream()
    out = []
    for _ in range(n):
        status, body, headers = client.request(
            "POST", router_url + "/predict", json.dumps({"instances": [{"x": 1}]}).encode(),
            {"Content-Type": "application/json"},
        )
        answer = json.loads(body).get("predictions", [None])[0]
        out.append((status, headers["X-Mlopsc-Variant"], answer))
    return out


def status_of(router):
    with urllib.request.urlopen(router.url + "/status", timeout=5) as resp:
        return json.loads(resp.read())


def test_split_is_deterministic_and_exact(servers):
    champ, chall = servers("v1"), servers("v2")
    with Router(champ.url, chall.url, weight=0.05) as router:
        results = send(router.url, 200)
    to_challenger = [i for i, (_, variant, _) in enumerate(results) if variant == "challenger"]
    assert to_challenger == [19, 39, 59, 79, 99, 119, 139, 159, 179, 199]
    assert all(answer == ("v2" if variant == "challenger" else "v1") for _, variant, answer in results)


def test_failing_challenger_is_rolled_back_and_all_traffic_returns_to_the_champion(servers):
    champ, chall = servers("v1"), servers("v2", fail=True)
    strategy = ir.Strategy("canary", (5, 25, 50, 100), 1800, None, None, None)
    rollout = Rollout(strategy, ir.Rollback(max_error_rate=0.01, max_p99_latency_ms=None), window=50)
    with Router(champ.url, chall.url, rollout=rollout) as router:
        assert router.weight == 0.05
        client = Upstream()
        first = send(router.url, 100, client)
        assert [r for r in first if r[1] == "challenger"] == [(500, "challenger", None)] * 1  # at request 19
        st = status_of(router)
        assert st["rollout"]["state"] == "rolled_back"
        assert st["weight"] == 0.0
        assert "error rate 1/1 exceeds max_error_rate 0.01" in st["rollout"]["reason"]
        # the challenger saw exactly one request; afterwards everything is on the champion
        after = send(router.url, 200, client)
        assert all(r == (200, "champion", "v1") for r in after)
        assert chall.metrics.requests == {("/predict", 500): 1}
        st = status_of(router)
        assert st["served"] == {"champion": {"200": 299}, "challenger": {"500": 1}}
        assert [e["event"] for e in st["rollout"]["history"]] == ["start", "rollback"]


def test_healthy_challenger_walks_every_step_and_is_promoted(servers):
    champ, chall = servers("v1"), servers("v2")
    rollout = Rollout("canary", ir.Rollback(0.01, 500.0), steps=(5, 25, 50, 100), window=20)
    with Router(champ.url, chall.url, rollout=rollout) as router:
        client = Upstream()
        weights = []
        for _ in range(40):
            weights.append(router.weight)
            send(router.url, 20, client)
            if rollout.done:
                break
        st = status_of(router)
        assert st["rollout"]["state"] == "promoted"
        assert [e["message"] for e in st["rollout"]["history"] if e["event"] == "start"] == [
            "challenger at 5% of traffic", "challenger at 25% of traffic",
            "challenger at 50% of traffic", "challenger at 100% of traffic",
        ]
        # the challenger is the champion now and answers everything
        assert st["champion"] == chall.url and st["challenger"] is None
        assert st["previous_champion"] == champ.url
        assert all(r == (200, "champion", "v2") for r in send(router.url, 20, client))
        assert sorted(set(weights)) == [0.05, 0.25, 0.5, 1.0]


def test_slow_challenger_trips_the_p99_rule(servers):
    champ, chall = servers("v1"), servers("v2", sleep_s=0.03)
    rollout = Rollout("canary", ir.Rollback(None, 10.0), steps=(50, 100), window=100)
    with Router(champ.url, chall.url, rollout=rollout) as router:
        send(router.url, 10)
        st = router.status()
        # with a window of 100, two answers over 10 ms already make the p99 too slow
        assert st["rollout"]["state"] == "rolled_back"
        assert "p99 latency" in st["rollout"]["reason"]
        assert st["rollout"]["challenger"]["requests"] == 2
        assert all(r[1] == "champion" for r in send(router.url, 20))


def test_shadow_mirrors_a_sample_and_never_answers_from_the_challenger(servers):
    champ, chall = servers("v1"), servers("v2", fail=True)
    strategy = ir.Strategy("shadow", (), 600, 0.5, None, 600)
    rollout = Rollout(strategy, ir.Rollback(0.05, None), window=100)
    with Router(champ.url, chall.url, rollout=rollout) as router:
        results = send(router.url, 40)
        router.wait_mirrors()
        assert all(r == (200, "champion", "v1") for r in results)
        st = router.status()
        # the 6th error in a window of 100 breaks max_error_rate 5% and stops the mirror; mirrors
        # already in flight when that answer arrived may still land
        mirrored = st["mirrored"]["500"]
        assert 6 <= mirrored <= 20
        assert st["rollout"]["state"] == "rolled_back"
        assert st["shadow"] == 0.0
        assert all(r == (200, "champion", "v1") for r in send(router.url, 20))
        router.wait_mirrors()
        assert router.status()["mirrored"] == {"500": mirrored}
        assert chall.metrics.requests == {("/predict", 500): mirrored}


def test_healthy_shadow_completes_without_promoting(servers):
    champ, chall = servers("v1"), servers("v2")
    rollout = Rollout("shadow", ir.Rollback(0.05, None), sample=1.0, window=30)
    with Router(champ.url, chall.url, rollout=rollout) as router:
        results = send(router.url, 30)
        router.wait_mirrors()
        assert all(r[1] == "champion" for r in results)
        st = router.status()
        assert st["rollout"]["state"] == "completed" and st["rollout"]["verdict"] == "passed"
        assert st["champion"] == champ.url


def test_ab_test_holds_a_fixed_split_then_completes(servers):
    champ, chall = servers("v1"), servers("v2")
    rollout = Rollout(ir.Strategy("ab_test", (), 600, None, 0.3, 3600), None, window=30)
    with Router(champ.url, chall.url, rollout=rollout) as router:
        results = send(router.url, 100)
        assert sum(1 for r in results if r[1] == "challenger") == 30
        st = router.status()
        assert st["rollout"]["state"] == "completed"
        assert st["rollout"]["challenger"]["requests"] == 30
        assert st["rollout"]["champion"]["requests"] == 70
        assert all(r[1] == "champion" for r in send(router.url, 10))


def test_unreachable_challenger_counts_as_errors(servers):
    champ = servers("v1")
    dead = ModelServer(model("x")).start()
    dead_url = dead.url
    dead.stop()
    rollout = Rollout("blue_green", ir.Rollback(0.1, None), window=10)
    with Router(champ.url, dead_url, rollout=rollout) as router:
        assert router.weight == 1.0
        results = send(router.url, 5)
        assert results[0][0] == 502
        assert router.status()["rollout"]["state"] == "rolled_back"
        assert all(r == (200, "champion", "v1") for r in results[2:])


def test_manual_rollback_and_metrics(servers):
    champ, chall = servers("v1"), servers("v2")
    with Router(champ.url, chall.url, weight=0.5) as router:
        send(router.url, 4)
        req = urllib.request.Request(router.url + "/rollback", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert json.loads(resp.read())["weight"] == 0.0
        with urllib.request.urlopen(router.url + "/metrics", timeout=5) as resp:
            text = resp.read().decode()
        assert 'mlopsc_router_requests_total{variant="challenger",status="200"} 2' in text
        assert "mlopsc_router_challenger_weight 0.0" in text


def test_window_derivation_and_p99():
    assert derive_window(None) == 100
    assert derive_window(ir.Rollback(0.01, 200.0)) == 300
    assert derive_window(ir.Rollback(0.0001, None)) == 1000
    assert p99(list(range(1, 101))) == 99
    assert p99(list(range(1, 201))) == 198
    assert p99([]) is None
    with pytest.raises(ValueError, match="end at 100"):
        Rollout("canary", None, steps=(5, 50))


def _declared_length_answer(url: str, length: int) -> tuple[int, dict, str | None]:
    """POST that declares `length` bytes but sends none: a server must refuse on the header alone."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest("POST", "/predict")
        conn.putheader("Content-Length", str(length))
        conn.putheader("ce-id", "ev-1")
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read()), resp.getheader("Connection")
    finally:
        conn.close()


def test_router_and_collector_refuse_a_body_over_the_limit_and_close(servers, tmp_path):
    from mlopsc.runtime.capture_collector import Collector
    from mlopsc.runtime.httpbase import MAX_BODY_BYTES

    with Router(servers("v1").url, None, weight=0.0) as router, \
            Collector(str(tmp_path / "out"), host="127.0.0.1", port=0) as collector:
        for url in (router.url, collector.url):
            status, body, connection = _declared_length_answer(url, MAX_BODY_BYTES + 1)
            assert status == 413 and "too large" in body["error"], (url, body)
            assert connection == "close"
        assert collector.buffered == 0
