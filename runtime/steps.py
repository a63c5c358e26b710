"""The step actions' shared ground: `StepContext`, `StepFailed`, finding an action's function
(`mlopsc.contract.ACTIONS` names it, "module:function"), and the on-disk conventions every
action reads and writes. The actions live in `actions_data` (validate, features, drift),
`actions_train` (train with sweeps, fine_tune), `actions_model` (evaluate, fail, register),
and `deploy`, `export` and `monitoring`.

Each action takes a `StepContext` (the project IR, the step's `--arg`s, `--input`s and
`--output`s) and writes its outputs; it raises `StepFailed` with a clear message when the step
must stop the pipeline (bad data, a failed gate). The CLI only parses options into a context
and maps `StepFailed` to exit code 1.

On-disk conventions for outputs (the same on every target; a target only decides the paths):
- a `dataset` output is a directory with one `<dataset>.parquet` per dataset, plus
  `versions.json` (dataset name -> the version actually read: `sha256:...` for a local file,
  `s3:versionId:...`/`s3:etag:...`, `gs:generation:...`, `dvc:md5:...`; for lineage);
- a `metrics` output is a JSON file;
- a `model` output is a JSON file `{"model_uri", "run_id", "experiment", "tracking_uri"}`;
- a parameter output (`boolean`, `string`, ...) is a file holding its JSON value (`true`, `"3"`);
- the drift step's `report` is the JSON report, with the HTML page beside it as `report.html`.

Relative dataset URIs and entrypoints (`train.py:train`) resolve against the spec's directory;
datasets are read through the platform's storage (`platforms.storage`: local, `file://`,
`s3://`, `gs://`, DVC).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlopsc import ir


class StepFailed(Exception):
    """The step ran and decided the pipeline must stop; the message says why."""


@dataclass
class StepContext:
    project: ir.Project
    spec_dir: Path
    args: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None  # where `.mlopsc/` lives; default: spec_dir
    tracking_uri: str | None = None
    log: Callable[[str], None] = print
    target: str = "local"  # the platform the step runs on (the contract's --target)
    pipeline: str | None = None
    step: str | None = None
    artifact_metadata: dict[str, dict] = field(default_factory=dict)  # output -> KFP artifact metadata

    @property
    def root(self) -> Path:
        return self.workdir or self.spec_dir

    def output(self, name: str) -> Path:
        if name not in self.outputs:
            raise KeyError(f"step has no output {name!r}")
        path = Path(self.outputs[name])
        return path if path.is_absolute() else self.root / path

    def input_path(self, name: str) -> Path:
        path = Path(self.inputs[name])
        return path if path.is_absolute() else self.root / path


def action_function(action: str) -> Callable[[StepContext], dict]:
    """The function the step contract names for an action. Raises `KeyError` for an unknown one."""
    from mlopsc import contract

    module, _, name = contract.action(action).impl.partition(":")
    return getattr(importlib.import_module(module), name)


def run_step(action: str, ctx: StepContext) -> dict:
    """Run one action; return a small summary dict. Raises `StepFailed` or `KeyError`; a failure
    of a store the step talks to (MLflow, AWS, object storage) becomes a one-line `StepFailed`."""
    fn = action_function(action)
    try:
        return fn(ctx)
    except StepFailed:
        raise
    except Exception as e:
        message = store_failure(e)
        if message is None:
            raise
        raise StepFailed(message) from None


# Where an exception class comes from says which store failed: the libraries that talk to the
# tracking server and object storage (no import of them here: a local step may not load them).
_STORE_MODULES = (("mlflow", "MLflow tracking store"), ("botocore", "AWS"), ("boto3", "AWS"),
                  ("s3fs", "object storage"), ("gcsfs", "object storage"), ("fsspec", "object storage"),
                  ("aiobotocore", "AWS"), ("google.", "Google Cloud"))


def store_failure(e: BaseException) -> str | None:
    """The one-line message for a store's failure (naming the store), or None for other errors."""
    from mlopsc.runtime.storage import StorageError, environment_hint

    text = " ".join(str(e).split())[:400] or type(e).__name__
    if isinstance(e, StorageError):
        return text
    modules = [c.__module__ for c in type(e).__mro__]
    for prefix, store in _STORE_MODULES:
        if any(m == prefix or m.startswith(prefix.rstrip(".") + ".") for m in modules):
            if prefix == "mlflow":
                return f"{store} {_tracking_uri()}: {text}"
            return f"{store} ({environment_hint()}): {text}"
    return None


def _tracking_uri() -> str:
    mlflow = sys.modules.get("mlflow")
    try:
        return mlflow.get_tracking_uri() if mlflow is not None else os.environ.get("MLFLOW_TRACKING_URI", "")
    except Exception:  # noqa: BLE001 - only for the message
        return os.environ.get("MLFLOW_TRACKING_URI", "")


# ---------------------------------------------------------------- helpers


def requested_version(ctx: StepContext, dataset: str) -> str | None:
    """The version of `dataset` the run asks for (`--input version_<ds>=...`, e.g. from the
    `resolve_data` step or the pipeline's `data_version_<ds>` parameter), or None."""
    return ctx.inputs.get(f"version_{dataset}") or ctx.args.get(f"version_{dataset}") or None


def step_storage(ctx: StepContext):
    """The step's data storage, from its platform (`platforms.storage.DataStorage`)."""
    from mlopsc.runtime import platforms

    return platforms.current(ctx).storage


def load_callable(ref: str, base: Path) -> Callable[..., Any]:
    """`file.py:function` relative to `base` (or `package.module:function`)."""
    target, _, name = ref.partition(":")
    if not name:
        raise StepFailed(f"entrypoint {ref!r} must be `file.py:function`")
    if target.endswith(".py"):
        path = (base / target).resolve()
        if not path.is_file():
            raise StepFailed(f"entrypoint file {path} does not exist")
        mod_name = f"mlopsc_user_{path.stem}_{abs(hash(str(path))) & 0xFFFFFF:x}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.parent))
        before = set(sys.modules)
        try:
            sys.modules[mod_name] = module
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(path.parent))
        _pickle_by_value(path.parent, [mod_name, *(set(sys.modules) - before)])
    else:
        module = importlib.import_module(target)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise StepFailed(f"entrypoint {ref!r}: {name} is not a function in {target}")
    return fn


def _pickle_by_value(directory: Path, names: list[str]) -> None:
    """User code next to the spec is not importable where a model is loaded (a server, another
    step): pickle its classes by value into the model, not by module reference."""
    try:
        import cloudpickle
    except ImportError:
        return
    for name in names:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if module is not None and file and Path(file).resolve().is_relative_to(directory):
            try:
                cloudpickle.register_pickle_by_value(module)
            except ValueError:
                pass


def call_with_supported(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `fn`, passing only the keyword arguments its signature accepts."""
    params = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return fn(*args, **kwargs)


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8", newline="\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


MODEL_DIR = "mlflow-model"  # the MLflow model inside a model directory (SageMaker's model.tar.gz)


def write_model_ref(path: Path, ref: dict) -> None:
    """A model output: the JSON file itself, or, when the target hands a directory (SageMaker
    training's /opt/ml/model, uploaded as model.tar.gz), `model.json` plus the MLflow model itself
    under `mlflow-model/`: the endpoint's `IMAGE serve` loads it from /opt/ml/model without
    reaching the tracking server."""
    if not path.is_dir():
        write_json(path, ref)
        return
    import mlflow

    mlflow.artifacts.download_artifacts(artifact_uri=ref["model_uri"], dst_path=str(path / MODEL_DIR))
    write_json(path / "model.json", ref)


def read_model_ref(path: Path) -> dict:
    """Read what `write_model_ref` wrote: a file, a directory with `model.json`, or a directory
    with SageMaker's `model.tar.gz` holding it."""
    if path.is_file():
        return read_json(path)
    if (path / "model.json").is_file():
        return read_json(path / "model.json")
    archive = path / "model.tar.gz"
    if archive.is_file():
        import tarfile

        with tarfile.open(archive) as tar:
            member = next((m for m in tar.getmembers() if m.name.lstrip("./") == "model.json"), None)
            if member is not None:
                return json.loads(tar.extractfile(member).read().decode("utf-8"))
    raise StepFailed(f"no model reference at {path} (expected a JSON file, model.json or model.tar.gz)")


def write_frames(out_dir: Path, frames: dict[str, Any], versions: dict[str, str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        tmp = out_dir / f".{name}.parquet.tmp"
        df.to_parquet(tmp, index=False)
        os.replace(tmp, out_dir / f"{name}.parquet")
    write_json(out_dir / "versions.json", versions)


def read_frames(in_dir: Path) -> tuple[dict[str, Any], dict[str, str]]:
    import pandas as pd

    frames = {p.stem: pd.read_parquet(p) for p in sorted(in_dir.glob("*.parquet"))}
    versions_file = in_dir / "versions.json"
    versions = read_json(versions_file) if versions_file.exists() else {}
    return frames, versions


def apply_views(project: ir.Project, frames: dict[str, Any], spec_dir: Path, only: set[str] | None = None) -> dict:
    """Apply each feature view's transform to its source dataset (and to datasets that take
    their schema from it, e.g. a holdout), in declaration order."""
    if not project.features or project.data is None:
        return frames
    out = dict(frames)
    for view in project.features.views:
        if not view.transform:
            continue
        fn = load_callable(view.transform, spec_dir)
        targets = [view.source] + [d.name for d in project.data.datasets if d.schema_from == view.source]
        for name in targets:
            if name in out and (only is None or name in only):
                out[name] = fn(out[name])
    return out


def training_dataset(project: ir.Project) -> str:
    data = project.data
    assert data is not None and data.datasets
    eval_name = project.evals.dataset if project.evals else None
    if project.features:
        for view in project.features.views:
            if view.source != eval_name:
                return view.source
    for ds in data.datasets:
        if ds.name != eval_name:
            return ds.name
    return data.datasets[0].name


def step_tracker(ctx: StepContext):
    """The step's MLflow tracker, from its platform (the store in `platforms.tracking_store`'s order)."""
    from mlopsc.runtime import platforms

    return platforms.current(ctx).tracker(ctx)


