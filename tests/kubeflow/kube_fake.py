"""A Kubernetes API server on 127.0.0.1 for InferenceServices, with KServe's controller folded in.

It speaks the REST protocol the rollout step uses (GET, POST, PUT with resourceVersion, JSON merge
PATCH under /apis/serving.kserve.io/v1beta1/namespaces/NS/inferenceservices[/NAME]), validates
every object it is asked to store against the KServe CRD's openAPIV3Schema (a PATCH: the merged
object, as the API server does), answers 404/409/422 with a `Status` as Kubernetes does, and
reports the status KServe's Serverless mode reports: a new revision per spec change
(`NAME-predictor-0000N`), Ready once the revision is up (never, for a storageUri in
`never_ready`), and `status.components.predictor.traffic` split by `canaryTrafficPercent` between
the latest ready revision and the previous rolled-out one.

`route()` picks the revision that serves one request by those weights, as Knative's router
would, so a test can drive traffic at model servers standing in for the revisions.
"""

from __future__ import annotations

import copy
import json
import random
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
from servers import reply_json

PREFIX = "/apis/serving.kserve.io/v1beta1/namespaces/"
ISTIO_PREFIX = "/apis/networking.istio.io/v1/namespaces/"


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class FakeKServe:
    def __init__(self, schema: dict, *, never_ready: set[str] = frozenset(), ready_after_polls: int = 2):
        self.validator = jsonschema.Draft7Validator(schema)
        self.never_ready = set(never_ready)
        self.ready_after_polls = ready_after_polls
        self.objects: dict[tuple[str, str], dict] = {}
        self.revisions: dict[tuple[str, str], list[dict]] = {}  # per object: {name, uri, polls, ready}
        self.requests: list[tuple[str, str, object]] = []
        self.mirrors: dict[tuple[str, str], dict] = {}  # Istio VirtualServices, stored as given
        self.deleted: list[dict] = []
        self.lock = threading.Lock()
        self.version = 0

    # -- state a test sets up and reads

    def seed(self, manifest: dict, storage_uri: str) -> None:
        """An InferenceService already serving `storage_uri` as its first revision."""
        body = copy.deepcopy(manifest)
        body["spec"]["predictor"].pop("canaryTrafficPercent", None)
        body["spec"]["predictor"]["model"]["storageUri"] = storage_uri
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        self._store(key, body, created=True)
        rev = self.revisions[key][-1]
        rev.update(ready=True, rolled_out=True)
        self.objects[key]["status"] = self._status(key)

    def get(self, namespace: str, name: str) -> dict:
        with self.lock:
            key = (namespace, name)
            return copy.deepcopy(self.objects[key])

    def route(self, namespace: str, name: str) -> str:
        with self.lock:
            traffic = self.objects[(namespace, name)]["status"]["components"]["predictor"]["traffic"]
        weights = [t["percent"] for t in traffic]
        return random.choices([t["revisionName"] for t in traffic], weights=weights)[0]

    # -- the API server

    def handle(self, method: str, path: str, body: object) -> tuple[int, dict]:
        self.requests.append((method, path, body))
        if path.startswith(ISTIO_PREFIX):
            with self.lock:
                return self._plain(method, path[len(ISTIO_PREFIX):].split("/"), body)
        if not path.startswith(PREFIX):
            return 404, _status(404, "NotFound", f"the server could not find the requested resource {path}")
        parts = path[len(PREFIX):].split("/")
        if len(parts) not in (2, 3) or parts[1] != "inferenceservices":
            return 404, _status(404, "NotFound", path)
        namespace, name = parts[0], parts[2] if len(parts) == 3 else None
        with self.lock:
            return self._handle(method, namespace, name, body)

    def _handle(self, method, namespace, name, body) -> tuple[int, dict]:
        key = (namespace, name)
        if method == "POST":
            key = (namespace, body.get("metadata", {}).get("name"))
            if key in self.objects:
                return 409, _status(409, "AlreadyExists", f"inferenceservices {key[1]!r} already exists")
            return self._accept(key, body, created=True)
        if key not in self.objects:
            return 404, _status(404, "NotFound", f'inferenceservices.serving.kserve.io "{name}" not found')
        if method == "GET":
            return 200, self._poll(key)
        if method == "DELETE":
            self.deleted.append(self.objects.pop(key))
            self.revisions.pop(key)
            return 200, _status(200, "Success", f"{name} deleted")
        if method == "PUT":
            if body.get("metadata", {}).get("resourceVersion") != self.objects[key]["metadata"]["resourceVersion"]:
                return 409, _status(409, "Conflict", "the object has been modified; apply your changes to the latest "
                                                     "version and try again")
            return self._accept(key, body, created=False)
        if method == "PATCH":
            current = {k: v for k, v in self.objects[key].items() if k != "status"}
            return self._accept(key, merge_patch(current, body), created=False)
        return 405, _status(405, "MethodNotAllowed", method)

    def _plain(self, method, parts, body) -> tuple[int, dict]:
        """VirtualServices: stored as given (no Istio schema in the reference folder)."""
        if len(parts) not in (2, 3) or parts[1] != "virtualservices":
            return 404, _status(404, "NotFound", "/".join(parts))
        key = (parts[0], parts[2] if len(parts) == 3 else body["metadata"]["name"])
        if method == "POST":
            if key in self.mirrors:
                return 409, _status(409, "AlreadyExists", key[1])
            self.mirrors[key] = {**body, "metadata": {**body["metadata"], "resourceVersion": "1"}}
            return 201, self.mirrors[key]
        if key not in self.mirrors:
            return 404, _status(404, "NotFound", f'virtualservices.networking.istio.io "{key[1]}" not found')
        if method == "GET":
            return 200, self.mirrors[key]
        if method == "PUT":
            self.mirrors[key] = body
            return 200, body
        if method == "DELETE":
            self.deleted.append(self.mirrors.pop(key))
            return 200, _status(200, "Success", key[1])
        return 405, _status(405, "MethodNotAllowed", method)

    def _accept(self, key, body, created) -> tuple[int, dict]:
        errors = sorted(self.validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path)
            return 422, _status(422, "Invalid", f"InferenceService {key[1]} is invalid: {where}: {errors[0].message}")
        self._store(key, body, created)
        self.objects[key]["status"] = self._status(key)
        return (201 if created else 200), copy.deepcopy(self.objects[key])

    def _store(self, key, body, created) -> None:
        self.version += 1
        body = copy.deepcopy(body)
        body.pop("status", None)
        old = self.objects.get(key)
        meta = body["metadata"]
        meta["resourceVersion"] = str(self.version)
        meta["generation"] = 1 if created or old is None else old["metadata"]["generation"] + 1
        self.objects[key] = body
        revisions = self.revisions.setdefault(key, [])
        uri = body["spec"]["predictor"]["model"]["storageUri"]
        if not revisions or revisions[-1]["uri"] != uri:
            revisions.append({"name": f"{key[1]}-predictor-{len(revisions) + 1:05d}", "uri": uri, "polls": 0,
                              "ready": False, "rolled_out": False})
        latest = revisions[-1]
        if body["spec"]["predictor"].get("canaryTrafficPercent") is None and latest["ready"]:
            latest["rolled_out"] = True  # no canary: the latest ready revision takes all traffic

    def _poll(self, key) -> dict:
        """A GET: the new revision comes up after a few polls (unless its model never loads)."""
        latest = self.revisions[key][-1]
        latest["polls"] += 1
        if not latest["ready"] and latest["uri"] not in self.never_ready and latest["polls"] >= self.ready_after_polls:
            latest["ready"] = True
            if self.objects[key]["spec"]["predictor"].get("canaryTrafficPercent") is None:
                latest["rolled_out"] = True
        self.objects[key]["status"] = self._status(key)
        return copy.deepcopy(self.objects[key])

    def _status(self, key) -> dict:
        revisions = self.revisions[key]
        latest = revisions[-1]
        rolled = [r for r in revisions if r["rolled_out"]]
        stable = rolled[-1] if rolled else None
        canary = self.objects[key]["spec"]["predictor"].get("canaryTrafficPercent")
        if latest["ready"] and stable is not None and stable is not latest and canary is not None:
            traffic = [{"latestRevision": True, "percent": canary, "revisionName": latest["name"], "tag": "latest"},
                       {"latestRevision": False, "percent": 100 - canary, "revisionName": stable["name"],
                        "tag": "prev"}]
        elif stable is not None:
            traffic = [{"latestRevision": stable is latest, "percent": 100, "revisionName": stable["name"]}]
        else:
            traffic = []
        ready = latest["ready"]
        ns, name = key
        predictor = {"latestCreatedRevision": latest["name"], "traffic": traffic,
                     "url": f"http://{name}-predictor.{ns}.example.com"}
        ready_revisions = [r for r in revisions if r["ready"]]
        if ready_revisions:
            predictor["latestReadyRevision"] = ready_revisions[-1]["name"]
        if stable is not None:
            predictor["latestRolledoutRevision"] = stable["name"]
            if len(rolled) > 1:
                predictor["previousRolledoutRevision"] = rolled[-2]["name"]
        condition = {"type": "Ready", "status": "True" if ready else "False"}
        if not ready:
            condition.update(reason="RevisionMissing",
                             message=f"Revision \"{latest['name']}\" failed with message: model failed to load")
        return {"address": {"url": f"http://{name}.{ns}.svc.cluster.local"}, "components": {"predictor": predictor},
                "conditions": [condition], "url": f"http://{name}.{ns}.example.com",
                "observedGeneration": self.objects[key]["metadata"]["generation"]}


def _status(code: int, reason: str, message: str) -> dict:
    return {"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": code, "reason": reason,
            "message": message}


@contextmanager
def serve(fake: FakeKServe):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if method == "PATCH" and self.headers.get("Content-Type") != "application/merge-patch+json":
                code, out = 415, _status(415, "UnsupportedMediaType", self.headers.get("Content-Type", ""))
            else:
                code, out = fake.handle(method, self.path, body)
            reply_json(self, code, out)

        def do_GET(self):
            self._reply("GET")

        def do_POST(self):
            self._reply("POST")

        def do_PUT(self):
            self._reply("PUT")

        def do_PATCH(self):
            self._reply("PATCH")

        def do_DELETE(self):
            self._reply("DELETE")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
