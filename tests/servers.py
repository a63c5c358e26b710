"""Real servers for tests, each on 127.0.0.1 and stopped by the fixture that started it:
moto's server (S3 and the AWS APIs) and a GCS emulator (gcp-storage-emulator)."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reply_json(handler, status: int, payload) -> None:
    """Answer an http.server request with `payload` as JSON (the fakes' one reply format)."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError as e:
            if getattr(e, "code", None):  # an HTTP error still means the server answers
                return
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _stop(proc, log, home: str) -> None:
    """Stop a server process started by a fixture here; remove its temporary home."""
    import shutil
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    shutil.rmtree(home, ignore_errors=True)


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server; yields its endpoint URL. AWS credentials and region are set for the block."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                                            "AWS_ENDPOINT_URL")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=url)
    try:
        _wait_http(url)
        # moto keeps its backends per process, across servers: start every block from an empty account
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).read()
        yield url
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def gcs_emulator() -> Iterator[str]:
    """gcp-storage-emulator in memory; yields its URL and sets STORAGE_EMULATOR_HOST for the block."""
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    url = f"http://127.0.0.1:{port}"
    saved = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = url
    try:
        _wait_http(url)
        yield url
    finally:
        server.stop()
        if saved is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = saved


@contextmanager
def s3_buckets() -> Iterator[object]:
    """moto's server with a versioned bucket `data` and a plain bucket `plain`; yields a boto3 S3 client."""
    import boto3

    with moto_server() as url:
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        client.create_bucket(Bucket="data")
        client.put_bucket_versioning(Bucket="data", VersioningConfiguration={"Status": "Enabled"})
        client.create_bucket(Bucket="plain")
        yield client


@contextmanager
def mlflow_server(artifacts: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`mlflow server` on 127.0.0.1 with a SQLite backend and its artifact store at `artifacts`
    (an `s3://` or `gs://` URI: the server proxies artifacts, so a step needs only the URL).
    `env`: what the server needs to reach that store (MLFLOW_S3_ENDPOINT_URL, STORAGE_EMULATOR_HOST)."""
    import subprocess
    import sys
    import tempfile

    port = free_port()
    home = tempfile.mkdtemp(prefix="mlopsc-mlflow-")
    log = open(os.path.join(home, "server.log"), "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{home}/mlflow.db", "--artifacts-destination", artifacts],
        env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            _wait_http(url + "/health", timeout=300)  # a loaded 2-core machine: over a minute
        except OSError:
            log.flush()
            tail = Path(log.name).read_text()[-3000:]
            raise RuntimeError("mlflow server did not start:\n" + tail) from None
        yield url
    finally:
        _stop(proc, log, home)


@contextmanager
def lakefs_api(commits: dict[tuple[str, str], list[str]]) -> Iterator[tuple[str, list[str]]]:
    """A lakeFS API stand-in on 127.0.0.1 answering logCommits for {(repository, ref): [commit ids,
    newest first]}. Every request is checked against lakeFS's published API (the path, the query
    parameters and their types, basic auth) and every response against its CommitList schema
    (tests/runtime/data/lakefs-logcommits.openapi.yaml). Yields (url, problems): a request that
    breaks the API is answered 400 and described in `problems`."""
    import http.server
    import re
    import threading
    import urllib.parse

    import jsonschema
    import yaml

    api = yaml.safe_load((Path(__file__).parent / "runtime" / "data" / "lakefs-logcommits.openapi.yaml").read_text())
    schema = {**api["components"]["schemas"]["CommitList"], "components": api["components"]}
    declared = {"after": str, "amount": int, "objects": str, "prefixes": str, "limit": str}
    problems: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def reply(self, code: int, body: dict) -> None:
            reply_json(self, code, body)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            m = re.fullmatch(r"/api/v1/repositories/([^/]+)/refs/([^/]+)/commits", url.path)
            query = urllib.parse.parse_qs(url.query)
            bad = [k for k in query if k not in declared]
            if "amount" in query and not (query["amount"][0].lstrip("-").isdigit()
                                          and -1 <= int(query["amount"][0]) <= 1000):
                bad.append("amount")
            if not m or bad or not self.headers.get("Authorization", "").startswith("Basic "):
                problems.append(f"{self.path} (unknown path, bad query {bad} or no basic auth)")
                return self.reply(400, {"message": "not the lakeFS API"})
            repo, ref = (urllib.parse.unquote(g) for g in m.groups())
            found = commits.get((repo, ref))
            if found is None:
                return self.reply(404, {"message": "not found"})
            amount = int(query.get("amount", ["100"])[0])
            results = [{"id": c, "parents": [], "committer": "ci", "message": "data", "creation_date": 1_700_000_000,
                        "meta_range_id": ""} for c in found[:amount]]
            body = {"pagination": {"has_more": len(found) > amount, "next_offset": "", "results": len(results),
                                   "max_per_page": 1000}, "results": results}
            jsonschema.validate(body, schema)
            return self.reply(200, body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", problems
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def prometheus_server(scrape_targets: list[str], *, interval: str = "1s") -> Iterator[str]:
    """Debian's `prometheus` on 127.0.0.1 scraping `scrape_targets` ("127.0.0.1:PORT", each a
    server exposing /metrics) every `interval`, its data in a temporary directory; yields its URL.
    The job is named `mlopsc`; each target keeps its address in the `instance` label."""
    import shutil
    import subprocess
    import tempfile

    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("Debian's prometheus is not installed (scripts/test.sh installs it)")
    port = free_port()
    home = tempfile.mkdtemp(prefix="mlopsc-prometheus-")
    config = {"global": {"scrape_interval": interval, "evaluation_interval": interval},
              "scrape_configs": [{"job_name": "mlopsc", "static_configs": [{"targets": list(scrape_targets)}]}]}
    Path(home, "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    log = open(os.path.join(home, "server.log"), "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [binary, f"--config.file={home}/prometheus.yml", f"--storage.tsdb.path={home}/data",
         f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"],
        stdout=log, stderr=subprocess.STDOUT, cwd=home)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            _wait_http(url + "/-/ready", timeout=60)
        except OSError:
            log.flush()
            raise RuntimeError("prometheus did not start:\n" + Path(log.name).read_text()[-3000:]) from None
        yield url
    finally:
        _stop(proc, log, home)
