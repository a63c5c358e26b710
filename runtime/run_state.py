"""What `mlopsc run` keeps between runs, under `<workdir>/.mlopsc/`: step outputs (the layout of
`mlopsc.contract.output_path`), staging folders, cache entries, each pipeline's `state.json`,
and the registry checks that decide whether a cached deploy-side step still holds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlopsc import ir
from mlopsc.contract import PARAMETER_KINDS, WORKDIR, staging_path

DEPLOYS = ("deploy", "rollout")  # actions whose cached result depends on the registry's aliases


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(path: Path, value: Any) -> None:
    """Write atomically: a reader sees the old record or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class RunStore:
    """The paths and records of one work directory."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.root = workdir / WORKDIR
        self.root.mkdir(parents=True, exist_ok=True)

    def out_dir(self, pipeline: str, step: str) -> Path:
        return self.root / "runs" / pipeline / step

    def staging_dir(self, pipeline: str, step: str) -> Path:
        return self.workdir / staging_path(pipeline, step)

    def log_file(self, pipeline: str, step: str) -> Path:
        return self.root / "runs" / pipeline / f"{step}.log"

    def cache_file(self, pipeline: str, step: str) -> Path:
        return self.root / "cache" / pipeline / f"{step}.json"

    def run_state_file(self, pipeline: str) -> Path:
        return self.root / "runs" / pipeline / "state.json"

    def hash_index(self) -> Path:
        return self.root / "cache" / "files.json"

    def deployment(self, environment: str | None) -> dict:
        """What the last deploy to `environment` recorded (written by the deploy action)."""
        return read_json(self.root / "deployments" / f"{environment}.json") or {}

    def read_cache(self, pipeline: str, step: str) -> dict | None:
        return read_json(self.cache_file(pipeline, step))

    def write_cache(self, pipeline: str, step: str, entry: dict) -> None:
        write_json(self.cache_file(pipeline, step), entry)

    def read_run_state(self, pipeline: str) -> dict | None:
        return read_json(self.run_state_file(pipeline))

    def write_run_state(self, pipeline: str, record: dict) -> None:
        write_json(self.run_state_file(pipeline), record)

    def outputs_present(self, pipeline: str, step: ir.Step) -> bool:
        return all((self.out_dir(pipeline, step.name) / o.name).exists() for o in step.outputs)

    def parameter_values(self, pipeline: str, step: ir.Step) -> dict[str, Any]:
        """The step's parameter outputs (each a file holding its JSON value) that exist."""
        found = {}
        for o in step.outputs:
            path = self.out_dir(pipeline, step.name) / o.name
            if o.kind in PARAMETER_KINDS and path.exists():
                found[o.name] = json.loads(path.read_text(encoding="utf-8"))
        return found


class Registry:
    """The MLflow registry, as the runner checks it (mlflow is imported on first use)."""

    def __init__(self, tracking_uri: str, model: str):
        self.tracking_uri = tracking_uri
        self.model = model
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def latest_version(self) -> str | None:
        """The newest registered version (what `model_version=latest` deploys), or None."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.search_model_versions(f"name='{self.model}'")
        except MlflowException:
            return None
        return str(max(int(v.version) for v in found)) if found else None

    def fingerprint(self) -> list | None:
        """Size and mtime of the embedded SQLite store's files: while they are unchanged, so is
        every answer the registry gives. None for a tracking server (it must be asked)."""
        if not self.tracking_uri.startswith("sqlite:///"):
            return None
        db = Path(self.tracking_uri[len("sqlite:///"):])
        found = []
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal")):
            try:
                stat = path.stat()
            except OSError:
                found.append(None)
                continue
            found.append([stat.st_size, stat.st_mtime_ns])
        return found if found[0] is not None else None

    def alias_version(self, alias: str) -> str:
        return str(self.client.get_model_version_by_alias(self.model, alias).version)


# Cached steps whose effect lives in the registry, checked there before they count as cached.
CHECKED = ("register", "approve", *DEPLOYS)


class CacheChecks:
    """Whether a cached step's side effects outside the work directory still hold (the
    registry may have moved on since), and the note its `cached` line shows."""

    def __init__(self, store: RunStore, registry: Registry):
        self.store = store
        self.registry = registry

    def note(self, step: ir.Step, registered: Any) -> str:
        if step.action in DEPLOYS:
            env = dict(step.args).get("environment")
            record = self.store.deployment(env)
            return f"version {record.get('version')} serving {env} as decided (up to date)"
        if step.action == "register":
            return f"version {registered} already registered"
        return ""

    def still_valid(self, step: ir.Step, params: dict[str, str], entry: dict | None = None) -> bool:
        if step.action not in CHECKED:
            return True  # nothing outside the work directory to check (and no mlflow import)
        sealed = (entry or {}).get("registry")
        if sealed is not None and sealed == self.registry.fingerprint():
            return True  # the registry has not changed since a successful run confirmed this step
        from mlflow.exceptions import MlflowException

        args = dict(step.args)
        model = args.get("model") or self.registry.model
        try:
            return self._holds(step, args, model, params)
        except MlflowException:
            return False

    def _holds(self, step: ir.Step, args: dict, model: str, params: dict[str, str]) -> bool:
        client = self.registry.client
        if step.action == "register":
            version = read_json(self.store.out_dir("train", step.name) / "model_version")
            client.get_model_version(model, str(version))  # raises when the version is gone
            return True
        if step.action == "approve":
            mv = client.get_model_version(model, str(params.get("model_version")))
            return mv.tags.get("mlopsc.approval") == "approved"
        env = args.get("environment")
        mv = client.get_model_version_by_alias(model, env)
        return str(mv.version) == str(self.store.deployment(env).get("version")) == str(params.get("model_version"))
