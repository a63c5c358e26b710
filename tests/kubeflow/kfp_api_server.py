"""A KFP v2beta1 REST API server on 127.0.0.1 for submit tests.

It speaks the routes `kfp.Client` calls for upload, experiments, runs and recurring runs, and
checks every request the way the API server would: each JSON body is rebuilt as its
`kfp_server_api` model with unknown keys rejected (recursively, enums checked by the models),
each uploaded pipeline file is parsed strictly into kfp-pipeline-spec's `PipelineSpec` (and its
`PlatformSpec` document), references (pipeline, version, experiment) must exist, names are unique
(409 like the API), and run parameters must be inputs the pipeline declares. A rejected request
is recorded in `errors`, so a test fails on it even when the client swallowed the error.
"""

from __future__ import annotations

import email.parser
import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import kfp_server_api
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from servers import reply_json

PRIMITIVES = {"str": str, "bool": bool, "int": int, "object": (dict, list, str, int, float, bool)}


class Rejected(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def strict_model(type_name: str, data: Any) -> Any:
    """`data` as the kfp_server_api type `type_name`, rejecting unknown keys and wrong types."""
    if type_name.startswith("list["):
        if not isinstance(data, list):
            raise Rejected(400, f"expected a list for {type_name}, got {data!r}")
        return [strict_model(type_name[5:-1], d) for d in data]
    if type_name.startswith("dict("):
        if not isinstance(data, dict):
            raise Rejected(400, f"expected an object for {type_name}")
        value_type = type_name[5:-1].split(", ", 1)[1]
        return {k: strict_model(value_type, v) for k, v in data.items()}
    if type_name in PRIMITIVES:
        if not isinstance(data, PRIMITIVES[type_name]):
            raise Rejected(400, f"expected {type_name}, got {data!r}")
        return data
    if type_name == "datetime":
        return data
    cls = getattr(kfp_server_api.models, type_name)
    if not cls.openapi_types:  # an enum: the class lists its allowed values
        allowed = [v for k, v in vars(cls).items() if k.isupper()]
        if data not in allowed:
            raise Rejected(400, f"{data!r} is not a {type_name} ({allowed})")
        return data
    if not isinstance(data, dict):
        raise Rejected(400, f"expected an object for {type_name}, got {data!r}")
    by_json = {v: k for k, v in cls.attribute_map.items()}
    unknown = sorted(set(data) - set(by_json))
    if unknown:
        raise Rejected(400, f"unknown field(s) {unknown} in {type_name}")
    try:
        return cls(**{by_json[k]: strict_model(cls.openapi_types[by_json[k]], v) for k, v in data.items()})
    except ValueError as exc:
        raise Rejected(400, f"{type_name}: {exc}") from exc


def parse_pipeline_file(text: bytes) -> dict[str, Any]:
    """The uploaded file's PipelineSpec (as a dict), parsed strictly like the API server."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    if not docs:
        raise Rejected(400, "empty pipeline file")
    try:
        json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
        for extra in docs[1:]:
            json_format.ParseDict(extra, pipeline_spec_pb2.PlatformSpec())
    except json_format.ParseError as exc:
        raise Rejected(400, f"invalid pipeline spec: {exc}") from exc
    return docs[0]


def _filter_name(query: dict[str, list[str]]) -> str | None:
    if "filter" not in query:
        return None
    predicates = json.loads(query["filter"][0])["predicates"]
    (only,) = predicates
    if only["key"] != "display_name" or only["operation"] not in ("EQUALS", 1):
        raise Rejected(400, f"unsupported filter {only}")
    return only["stringValue"]


class KfpState:
    """What the API server stores, plus every request and every rejection."""

    def __init__(self) -> None:
        self.ids = (f"id-{n}" for n in itertools.count(1))
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, dict[str, Any]] = {}  # version id -> version (with its spec)
        self.experiments: dict[str, dict[str, Any]] = {}
        self.runs: list[dict[str, Any]] = []
        self.recurring: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.errors: list[str] = []
        # namespaces the caller may not write to (multi-user KFP answers 403 PermissionDenied)
        self.forbidden_namespaces: set[str] = set()
        self.lock = threading.Lock()

    # -- pipelines ---------------------------------------------------------------------------
    def upload(self, query: dict[str, list[str]], content: bytes) -> dict[str, Any]:
        name = query["name"][0]
        if query.get("namespace", [""])[0] in self.forbidden_namespaces:
            raise Rejected(403, f"PermissionDenied: cannot create pipelines in namespace {query['namespace'][0]}")
        if any(p["display_name"] == name for p in self.pipelines.values()):
            raise Rejected(409, f"pipeline {name} already exists")
        spec = parse_pipeline_file(content)
        pid = next(self.ids)
        pipeline = {"pipeline_id": pid, "display_name": name, "description": query.get("description", [""])[0],
                    "namespace": query.get("namespace", [""])[0]}
        self.pipelines[pid] = pipeline
        self._add_version(pid, name, spec, "")  # the API stores the upload as the first version
        return pipeline

    def upload_version(self, query: dict[str, list[str]], content: bytes) -> dict[str, Any]:
        pid = query["pipelineid"][0]
        if pid not in self.pipelines:
            raise Rejected(404, f"pipeline {pid} not found")
        name = query["name"][0]
        if any(v["pipeline_id"] == pid and v["display_name"] == name for v in self.versions.values()):
            raise Rejected(409, f"version {name} already exists")
        return self._add_version(pid, name, parse_pipeline_file(content), query.get("description", [""])[0])

    def _add_version(self, pid: str, name: str, spec: dict[str, Any], description: str) -> dict[str, Any]:
        vid = next(self.ids)
        self.versions[vid] = {"pipeline_id": pid, "pipeline_version_id": vid, "display_name": name,
                              "description": description, "pipeline_spec": spec}
        return self.versions[vid]

    def version_for(self, ref: Any, parameters: dict[str, Any]) -> None:
        if ref is None or ref.pipeline_version_id not in self.versions:
            raise Rejected(404, f"pipeline version {ref} not found")
        version = self.versions[ref.pipeline_version_id]
        if version["pipeline_id"] != ref.pipeline_id:
            raise Rejected(400, "pipeline_version_reference: version belongs to another pipeline")
        declared = version["pipeline_spec"]["root"].get("inputDefinitions", {}).get("parameters", {})
        unknown = sorted(set(parameters) - set(declared))
        if unknown:
            raise Rejected(400, f"runtime_config: parameters {unknown} are not pipeline inputs")


class Handler(BaseHTTPRequestHandler):
    state: KfpState

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        reply_json(self, status, body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _uploaded_file(self) -> bytes:
        raw = self._body()
        header = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = email.parser.BytesParser().parsebytes(header + raw)
        for part in message.get_payload():
            if part.get_param("name", header="content-disposition") == "uploadfile":
                return part.get_payload(decode=True)
        raise Rejected(400, "no uploadfile in the multipart body")

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        state = self.state
        with state.lock:
            state.requests.append((method, url.path))
            try:
                status, body = route(state, method, url.path, query, self)
            except Rejected as exc:
                state.errors.append(f"{method} {url.path}: {exc}")
                status, body = exc.status, {"error": str(exc), "code": exc.status, "message": str(exc)}
        self._reply(status, body)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


def _json_body(handler: Handler, type_name: str) -> Any:
    try:
        data = json.loads(handler._body() or b"{}")
    except json.JSONDecodeError as exc:
        raise Rejected(400, f"body is not JSON: {exc}") from exc
    return strict_model(type_name, data)


def _public(version: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in version.items() if k != "pipeline_spec"}


def route(state: KfpState, method: str, path: str, query: dict[str, list[str]], handler: Handler) -> tuple[int, Any]:
    path = path.removeprefix("/apis/v2beta1")
    name = _filter_name(query)
    if (method, path) == ("GET", "/healthz"):
        return 200, {"multi_user": False}
    if (method, path) == ("GET", "/pipelines"):
        return 200, {"pipelines": [p for p in state.pipelines.values() if name in (None, p["display_name"])]}
    if (method, path) == ("POST", "/pipelines/upload"):
        return 200, state.upload(query, handler._uploaded_file())
    if (method, path) == ("POST", "/pipelines/upload_version"):
        return 200, _public(state.upload_version(query, handler._uploaded_file()))
    if method == "GET" and (m := re.fullmatch(r"/pipelines/([^/]+)/versions", path)):
        found = [_public(v) for v in state.versions.values()
                 if v["pipeline_id"] == m.group(1) and name in (None, v["display_name"])]
        return 200, {"pipeline_versions": found}
    if path == "/experiments":
        return experiments(state, method, query, name, handler)
    if (method, path) == ("POST", "/runs"):
        return 200, create_run(state, _json_body(handler, "V2beta1Run"))
    if path.startswith("/recurringruns"):
        return recurring_runs(state, method, path, query, name, handler)
    raise Rejected(404, f"no route {method} {path}")


def experiments(state: KfpState, method: str, query: dict[str, list[str]], name: str | None,
                handler: Handler) -> tuple[int, Any]:
    if method == "GET":
        return 200, {"experiments": [e for e in state.experiments.values() if name in (None, e["display_name"])]}
    exp = _json_body(handler, "V2beta1Experiment")
    if any(e["display_name"] == exp.display_name for e in state.experiments.values()):
        raise Rejected(409, f"experiment {exp.display_name} already exists")
    eid = next(state.ids)
    state.experiments[eid] = {"experiment_id": eid, "display_name": exp.display_name,
                              "namespace": exp.namespace or "", "storage_state": "AVAILABLE"}
    return 200, state.experiments[eid]


def create_run(state: KfpState, run: Any) -> dict[str, Any]:
    if run.experiment_id not in state.experiments:
        raise Rejected(404, f"experiment {run.experiment_id} not found")
    state.version_for(run.pipeline_version_reference, run.runtime_config.parameters or {})
    body = kfp_server_api.ApiClient().sanitize_for_serialization(run)
    body.update(run_id=next(state.ids), state="PENDING")
    state.runs.append(body)
    return body


def recurring_runs(state: KfpState, method: str, path: str, query: dict[str, list[str]], name: str | None,
                   handler: Handler) -> tuple[int, Any]:
    if method == "DELETE":
        rid = path.rsplit("/", 1)[1]
        if state.recurring.pop(rid, None) is None:
            raise Rejected(404, f"recurring run {rid} not found")
        return 200, {}
    if method == "GET":
        exp = query.get("experiment_id", [None])[0]
        found = [r for r in state.recurring.values()
                 if name in (None, r["display_name"]) and exp in (None, r["experiment_id"])]
        return 200, {"recurringRuns": found}  # the one camelCase field of the v2beta1 JSON
    job = _json_body(handler, "V2beta1RecurringRun")
    if job.experiment_id not in state.experiments:
        raise Rejected(404, f"experiment {job.experiment_id} not found")
    if not (job.trigger and job.trigger.cron_schedule and len(job.trigger.cron_schedule.cron.split()) == 6):
        raise Rejected(400, "trigger: a six-field cron schedule is required")
    state.version_for(job.pipeline_version_reference, job.runtime_config.parameters or {})
    body = kfp_server_api.ApiClient().sanitize_for_serialization(job)
    body.update(recurring_run_id=next(state.ids), status="ENABLED" if job.mode == "ENABLE" else "DISABLED")
    state.recurring[body["recurring_run_id"]] = body
    return 200, body


class KfpApiServer:
    """`with KfpApiServer() as api:` serves on `api.url` until the block ends."""

    def __enter__(self) -> "KfpApiServer":
        self.state = KfpState()
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
