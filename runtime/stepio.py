"""The step contract's references: parse `--arg/--input/--output` values and publish outputs.

Value forms (for `--arg` and `--input` values), in the grammar of `mlopsc.contract`:
- `${secret:NAME}` resolves from the environment variable `contract.secret_env_var(NAME)` (a
  target maps its secret store to that variable: `team/openai` -> `TEAM_OPENAI`); `${env:NAME}`
  from NAME. Unset variables are an error.
- `env:VAR` as a whole input value (SageMaker tuning jobs) is the environment variable VAR.

Output reference forms (`--output k=REF`):
- a plain path: an artifact is written there (file or directory); a parameter output is a file
  holding its JSON value (`true`, `"3"`), or the raw value when the step runs under KFP
  (`--executor-output` given: KFP reads a string parameter's file as is);
- `PATH#KEY` (SageMaker property files): `{KEY: value}` is merged into the JSON object at PATH.

With `--executor-output PATH` (KFP), the step also writes KFP's `ExecutorOutput` JSON there:
`{"artifacts": {name: {"artifacts": [{"name", "uri", "metadata"}]}}, "parameterValues": {...}}`,
which kfp.local needs to pick up output artifacts.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlopsc.contract import REF, env_var_for, parse_pair


class RefError(ValueError):
    """A reference in a step's command line cannot be resolved."""


def resolve_value(value: str, environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ

    def sub(m: Any) -> str:
        kind, name = m.group(1), m.group(2)
        var = env_var_for(kind, name)
        if var not in env:
            raise RefError(f"${{{kind}:{name}}} needs the environment variable {var}, which is not set")
        return env[var]

    return REF.sub(sub, value)


def parse_pairs(values: tuple[str, ...] | list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        try:
            key, value = parse_pair(flag, item)
        except ValueError as e:
            raise RefError(str(e)) from None
        out[key] = value
    return out


def resolve_inputs(inputs: dict[str, str], environ: dict[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    out = {}
    for key, value in inputs.items():
        if value.startswith("env:") and "/" not in value:
            var = value[4:]
            if var not in env:
                raise RefError(f"--input {key}: environment variable {var} is not set")
            value = env[var]
        out[key] = resolve_value(value, env)
    return out


@dataclass
class OutputPlan:
    """Where the action writes each output, and how to publish it afterwards."""

    refs: dict[str, str]  # name -> REF as given
    kinds: dict[str, str]  # name -> port kind (artifact kinds or parameter kinds); may be partial
    executor_output: str | None = None
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # artifact name -> KFP metadata
    staging: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mlopsc-step-")))

    def is_parameter(self, name: str) -> bool:
        kind = self.kinds.get(name)
        if kind is not None:
            return kind in ("string", "integer", "number", "boolean")
        return "#" in self.refs[name]

    def action_paths(self) -> dict[str, str]:
        """Paths the action writes to: artifacts in place, parameters into a private file."""
        out = {}
        for name, ref in self.refs.items():
            if self.is_parameter(name) or "#" in ref:
                out[name] = str(self.staging / name)
            else:
                out[name] = ref
        return out

    def publish(self) -> dict[str, Any]:
        """Move parameter values to their references; write ExecutorOutput. Returns the values."""
        values: dict[str, Any] = {}
        artifacts: dict[str, Any] = {}
        for name, ref in self.refs.items():
            staged = self.staging / name
            if not (self.is_parameter(name) or "#" in ref):
                if Path(ref).exists():
                    artifacts[name] = {"artifacts": [{"name": name, "uri": _uri(ref),
                                                     "metadata": self.metadata.get(name, {})}]}
                continue
            if not staged.exists():
                continue
            value = json.loads(staged.read_text(encoding="utf-8"))
            values[name] = value
            path, _, key = ref.partition("#")
            if key:
                merge_json(Path(path), {key: value})
            elif self.executor_output is not None:
                _write_text(Path(path), value if isinstance(value, str) else json.dumps(value))
            else:
                _write_text(Path(path), json.dumps(value))
        if self.executor_output:
            _write_text(Path(self.executor_output),
                        json.dumps({"artifacts": artifacts, "parameterValues": values}, sort_keys=True))
        return values

    def cleanup(self) -> None:
        import shutil

        shutil.rmtree(self.staging, ignore_errors=True)


def _uri(path: str) -> str:
    # KFP hands a local path for each artifact; its URI is the path under the pipeline root
    # (kfp.local) or the /gcs/ /s3/ /minio/ mount of a bucket URI (the KFP launcher).
    for mount, scheme in (("/gcs/", "gs://"), ("/s3/", "s3://"), ("/minio/", "minio://")):
        if path.startswith(mount):
            return scheme + path[len(mount):]
    return path


def merge_json(path: Path, values: dict[str, Any]) -> None:
    current: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8") or "{}")
        except ValueError as e:
            raise RefError(f"{path} is not JSON, cannot merge {sorted(values)} into it: {e}") from None
        if not isinstance(loaded, dict):
            raise RefError(f"{path} holds a JSON {type(loaded).__name__}, not an object")
        current = loaded
    current.update(values)
    _write_text(path, json.dumps(current, indent=2, sort_keys=True) + "\n")


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    os.replace(tmp, path)
