import json
import urllib.error
import urllib.request

import pandas as pd
import pytest
from mlopsc.runtime.httpbase import Upstream
from mlopsc.runtime.serving import Metrics, ModelServer, parse_prometheus


def post(url, payload, raw=None):
    data = raw if raw is not None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.headers.get("Content-Type"), resp.read().decode()


class Doubler:
    """A pyfunc-like model: predict(DataFrame) -> Series."""

    def predict(self, df: pd.DataFrame):
        if "x" not in df.columns:
            raise KeyError("x")
        return df["x"] * 2


@pytest.fixture
def server():
    with ModelServer(Doubler(), name="doubler", version="7") as s:
        yield s


def test_binds_localhost_and_a_free_port(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert server.port > 0


def test_predict_health_and_metrics(server):
    assert post(server.url + "/predict", {"instances": [{"x": 1}, {"x": 2.5}]}) == (
        200,
        {"predictions": [2, 5.0], "model": "doubler", "version": "7"},
    )
    status, _, body = get(server.url + "/health")
    assert status == 200 and json.loads(body) == {"status": "ok", "model": "doubler", "version": "7"}

    assert post(server.url + "/predict", {"instances": [{"y": 1}]})[0] == 500
    assert post(server.url + "/predict", None, raw=b"{not json")[0] == 400
    assert post(server.url + "/predict", {"rows": []})[0] == 400
    assert post(server.url + "/nope", {})[0] == 404

    status, ctype, text = get(server.url + "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    m = parse_prometheus(text)
    assert m['mlopsc_requests_total{model="doubler",path="/predict",status="200"}'] == 1
    assert m['mlopsc_requests_total{model="doubler",path="/predict",status="500"}'] == 1
    assert m['mlopsc_requests_total{model="doubler",path="/predict",status="400"}'] == 2
    assert m['mlopsc_requests_total{model="doubler",path="/health",status="200"}'] == 1
    assert m['mlopsc_errors_total{model="doubler",kind="model"}'] == 1
    assert m['mlopsc_errors_total{model="doubler",kind="bad_request"}'] == 2
    assert m['mlopsc_predictions_total{model="doubler"}'] == 2
    # the histogram covers answered and failed predictions, cumulative, ending at +Inf == count
    assert m['mlopsc_request_duration_seconds_count{model="doubler"}'] == 2
    assert m['mlopsc_request_duration_seconds_bucket{model="doubler",le="+Inf"}'] == 2
    assert m['mlopsc_request_duration_seconds_bucket{model="doubler",le="10.0"}'] == 2
    assert "# TYPE mlopsc_request_duration_seconds histogram" in text


def test_callable_models_and_keep_alive_clients():
    with ModelServer(lambda rows: [sum(r) for r in rows], name="summer") as s:
        client = Upstream()
        for i in range(50):
            status, body = client.post_json(s.url + "/predict", {"instances": [[i, 1], [2, 3]]})
            assert status == 200 and body["predictions"] == [i + 1, 5]
        assert s.metrics.predictions == 100


def test_stop_releases_the_port():
    s = ModelServer(lambda rows: rows).start()
    url = s.url
    Upstream().post_json(url + "/predict", {"instances": [1]})  # leaves a keep-alive connection open
    s.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/health", timeout=2)


def test_histogram_buckets_are_cumulative():
    m = Metrics("m", buckets=(0.01, 0.1, 1.0))
    for seconds in (0.005, 0.05, 0.05, 0.5, 5.0):
        m.latency(seconds)
    text = parse_prometheus(m.render())
    assert [text[f'mlopsc_request_duration_seconds_bucket{{model="m",le="{b}"}}'] for b in ("0.01", "0.1", "1.0", "+Inf")] == [
        1, 3, 4, 5,
    ]
    assert text['mlopsc_request_duration_seconds_sum{model="m"}'] == pytest.approx(5.605)
