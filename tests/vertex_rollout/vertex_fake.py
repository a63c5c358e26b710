"""An HTTP server on 127.0.0.1 speaking the part of Vertex AI's REST API (v1) the rollout, smoke
and load test steps and `submit` call. Every request body is parsed strictly into aiplatform's own
request message (`json_format.Parse(..., ignore_unknown_fields=False)`); a body that does not
parse is answered 400 and recorded in `rejected`, so a test fails on it. Long-running methods
answer an `Operation` with `done: true` and the packed response, as the API does once the work
is finished (or `done: false` / an `error`, when a test says so).

`:predict` is served for real: the fake picks a deployed model by the endpoint's traffic split
and forwards `{"instances"}` to that model's backend URL (a `runtime/serving.py` model server).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from google.cloud.aiplatform_v1 import types
from google.protobuf import json_format
from servers import reply_json

TYPE_URL = "type.googleapis.com/google.cloud.aiplatform.v1."


def strict(message_cls, body: bytes):
    """The body as `message_cls` (a proto-plus type), unknown fields rejected."""
    return json_format.Parse(body or b"{}", message_cls.pb()(), ignore_unknown_fields=False)


def as_json(message) -> dict:
    return json_format.MessageToDict(message)


class Rejected(Exception):
    pass


class FakeVertex:
    """State: endpoints, models, operations; the knobs a test turns: `next_deployed_id`,
    `backends` (deployed id -> URL), `fail_deploy` (an error message), `deploy_never_done`."""

    def __init__(self):
        self.endpoints: dict[str, dict] = {}
        self.models: dict[str, dict] = {}
        self.pipeline_jobs: dict[str, dict] = {}
        self.schedules: dict[str, dict] = {}
        self.backends: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []
        self.rejected: list[str] = []
        self.next_deployed_id: str | None = None
        self.fail_deploy: str | None = None
        self.deploy_never_done = False
        self._ids = itertools.count(1001)
        self.lock = threading.Lock()

    # ---------------------------------------------------------------- helpers for tests

    def add_endpoint(self, name: str, deployed: dict[str, str]) -> None:
        """An endpoint serving each deployed id (-> backend URL) with an even split."""
        share = {k: 100 // len(deployed) for k in deployed} if deployed else {}
        if share:
            share[min(share)] += 100 - sum(share.values())
        self.endpoints[name] = {"name": name, "displayName": name.rsplit("/", 1)[-1], "trafficSplit": share,
                                "deployedModels": [{"id": k, "model": f"models/{k}"} for k in sorted(deployed)]}
        self.backends.update(deployed)

    def split(self, endpoint: str) -> dict[str, int]:
        return dict(self.endpoints[endpoint].get("trafficSplit", {}))

    # ---------------------------------------------------------------- the API

    def operation(self, parent: str, response_type: str | None, response: dict | None, error: str | None = None,
                  done: bool = True) -> dict:
        op = {"name": f"{parent}/operations/{next(self._ids)}", "done": done}
        if error:
            op["error"] = {"code": 9, "message": error}
        elif done and response_type:
            op["response"] = {"@type": TYPE_URL + response_type, **(response or {})}
        return op

    def route(self, method: str, path: str, query: dict, body: bytes) -> tuple[int, dict]:
        self.calls.append((method, path))
        # operations are polled under /ui/ (the first of the API's http rules for GetOperation)
        m = re.fullmatch(r"/(?:v1|ui)/(projects/[^/]+/locations/[^/]+)/(.*)", path)
        if not m:
            return 404, {"error": {"code": 404, "message": f"no route {path}", "status": "NOT_FOUND"}}
        parent, rest = m.groups()
        handler = getattr(self, "_" + method.lower() + "_" + rest.split("/")[0].split(":")[0], None)
        if handler is None:
            return 404, {"error": {"code": 404, "message": f"no route {method} {path}", "status": "NOT_FOUND"}}
        return handler(parent, rest, query, body)

    def _not_found(self, what: str) -> tuple[int, dict]:
        return 404, {"error": {"code": 404, "message": f"{what} not found", "status": "NOT_FOUND"}}

    def _get_endpoints(self, parent, rest, query, body):
        if "/operations/" in rest:
            op = {"name": f"{parent}/{rest}", "done": False}
            return 200, op
        name = f"{parent}/{rest}"
        return (200, self.endpoints[name]) if name in self.endpoints else self._not_found(name)

    def _post_endpoints(self, parent, rest, query, body):
        if rest == "endpoints":
            endpoint = as_json(strict(types.Endpoint, body))
            name = f"{parent}/endpoints/{query['endpointId'][0]}"
            self.endpoints[name] = {**endpoint, "name": name}
            return 200, self.operation(parent, "Endpoint", self.endpoints[name])
        name, _, verb = f"{parent}/{rest}".partition(":")
        if name not in self.endpoints:
            return self._not_found(name)
        return getattr(self, "_" + verb)(parent, name, body)

    def _patch_endpoints(self, parent, rest, query, body):
        name = f"{parent}/{rest}"
        update = as_json(strict(types.Endpoint, body))
        if name not in self.endpoints:
            return self._not_found(name)
        if query.get("updateMask") == ["predictRequestResponseLoggingConfig"]:
            self.endpoints[name]["predictRequestResponseLoggingConfig"] = update["predictRequestResponseLoggingConfig"]
            return 200, self.endpoints[name]
        if query.get("updateMask") != ["trafficSplit"]:
            return 400, {"error": {"code": 400, "message": f"unexpected mask {query.get('updateMask')}"}}
        self.check_split(name, update.get("trafficSplit", {}), [d["id"] for d in self.endpoints[name]["deployedModels"]])
        self.endpoints[name]["trafficSplit"] = update.get("trafficSplit", {})
        return 200, self.endpoints[name]

    def check_split(self, name: str, split: dict, ids: list[str]) -> None:
        if sum(split.values()) != 100 or not set(split) <= set(ids):
            raise Rejected(f"bad traffic split for {name}: {split} (deployed: {ids})")

    def _deployModel(self, parent, name, body):
        request = as_json(strict(types.DeployModelRequest, body))
        if self.fail_deploy:
            return 200, self.operation(name, None, None, error=self.fail_deploy)
        if self.deploy_never_done:
            return 200, self.operation(name, None, None, done=False)
        deployed_id = self.next_deployed_id or str(next(self._ids))
        deployed = {**request["deployedModel"], "id": deployed_id}
        endpoint = self.endpoints[name]
        split = {(deployed_id if k == "0" else k): v for k, v in request.get("trafficSplit", {}).items()}
        self.check_split(name, split, [d["id"] for d in endpoint["deployedModels"]] + [deployed_id])
        endpoint["deployedModels"] = [*endpoint["deployedModels"], deployed]
        endpoint["trafficSplit"] = split
        return 200, self.operation(name, "DeployModelResponse", {"deployedModel": deployed})

    def _undeployModel(self, parent, name, body):
        request = as_json(strict(types.UndeployModelRequest, body))
        endpoint = self.endpoints[name]
        remaining = [d for d in endpoint["deployedModels"] if d["id"] != request["deployedModelId"]]
        if len(remaining) == len(endpoint["deployedModels"]):
            return self._not_found(request["deployedModelId"])
        if request.get("trafficSplit"):
            self.check_split(name, request["trafficSplit"], [d["id"] for d in remaining])
            endpoint["trafficSplit"] = request["trafficSplit"]
        elif endpoint["trafficSplit"].get(request["deployedModelId"]):
            raise Rejected(f"undeploying {request['deployedModelId']} that still has traffic")
        endpoint["deployedModels"] = remaining
        return 200, self.operation(name, "UndeployModelResponse", {})

    def _predict(self, parent, name, body):
        request = as_json(strict(types.PredictRequest, body))
        split = self.endpoints[name]["trafficSplit"]
        chosen = random.choices(sorted(split), weights=[split[k] for k in sorted(split)])[0]
        data = json.dumps({"instances": request.get("instances", [])}).encode()
        try:
            with urllib.request.urlopen(urllib.request.Request(
                    self.backends[chosen] + "/predict", data=data, headers={"Content-Type": "application/json"}),
                    timeout=30) as r:
                answer = json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, {"error": {"code": e.code, "message": e.read().decode()[:200], "status": "INTERNAL"}}
        return 200, {"predictions": answer["predictions"], "deployedModelId": chosen}

    def _get_models(self, parent, rest, query, body):
        if rest == "models":
            wanted = dict(re.findall(r'labels\.([\w-]+)="([^"]*)"', query.get("filter", [""])[0]))
            found = [m for m in self.models.values() if all(m.get("labels", {}).get(k) == v for k, v in wanted.items())]
            return 200, {"models": found} if found else {}
        name = f"{parent}/{rest}"
        return (200, self.models[name]) if name in self.models else self._not_found(name)

    def _post_models(self, parent, rest, query, body):
        request = as_json(strict(types.UploadModelRequest, body))
        name = f"{parent}/models/{next(self._ids)}"
        self.models[name] = {**request["model"], "name": name}
        return 200, self.operation(parent, "UploadModelResponse", {"model": name})

    def _post_pipelineJobs(self, parent, rest, query, body):
        job = as_json(strict(types.PipelineJob, body))
        job_id = query.get("pipelineJobId", [str(next(self._ids))])[0]
        name = f"{parent}/pipelineJobs/{job_id}"
        self.pipeline_jobs[name] = {**job, "name": name, "state": "PIPELINE_STATE_PENDING"}
        return 200, self.pipeline_jobs[name]

    def _get_pipelineJobs(self, parent, rest, query, body):
        name = f"{parent}/{rest}"
        return (200, self.pipeline_jobs[name]) if name in self.pipeline_jobs else self._not_found(name)

    def _get_schedules(self, parent, rest, query, body):
        if rest == "schedules":
            wanted = re.findall(r'display_name="([^"]*)"', query.get("filter", [""])[0])
            found = [s for s in self.schedules.values() if not wanted or s["displayName"] in wanted]
            return 200, {"schedules": found} if found else {}
        name = f"{parent}/{rest}"
        return (200, self.schedules[name]) if name in self.schedules else self._not_found(name)

    def _post_schedules(self, parent, rest, query, body):
        schedule = as_json(strict(types.Schedule, body))
        name = f"{parent}/schedules/{next(self._ids)}"
        self.schedules[name] = {**schedule, "name": name, "state": "ACTIVE"}
        return 200, self.schedules[name]

    def _patch_schedules(self, parent, rest, query, body):
        name = f"{parent}/{rest}"
        update = as_json(strict(types.Schedule, body))
        if name not in self.schedules:
            return self._not_found(name)
        mask = query.get("updateMask", [""])[0].split(",")
        for key in mask:
            camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), key)
            if camel in update:
                self.schedules[name][camel] = update[camel]
        return 200, self.schedules[name]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeVertex

    def log_message(self, *args):  # quiet
        pass

    def _serve(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            with self.fake.lock if not url.path.endswith(":predict") else _NoLock():
                status, payload = self.fake.route(self.command, url.path, parse_qs(url.query), body)
        except (json_format.ParseError, Rejected, KeyError) as e:
            self.fake.rejected.append(f"{self.command} {url.path}: {e}")
            status, payload = 400, {"error": {"code": 400, "message": str(e), "status": "INVALID_ARGUMENT"}}
        reply_json(self, status, payload)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


class FakeVertexServer:
    """The fake on a free port of 127.0.0.1: `with FakeVertexServer() as server: server.url`."""

    def __init__(self):
        self.fake = FakeVertex()
        handler = type("Handler", (_Handler,), {"fake": self.fake})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *a):
        self.httpd.shutdown()
        self.httpd.server_close()
