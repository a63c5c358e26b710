"""MLflow tracking and registry for the runtime steps.

    tracker = Tracker(workdir, experiment="churn")           # sqlite under <workdir>/.mlopsc/
    with tracker.start_run(run_name="train", tags=lineage_tags(...)) as run:
        tracker.log_params(hyperparameters)
        tracker.log_metrics(metrics)
        tracker.log_input("customers", "s3://bucket/customers.parquet", "s3:versionId:...", df)
        model_uri = tracker.log_model(model, input_example=sample, framework="sklearn",
                                      transforms=((customer_activity, ("tenure_bucket",)),))
    version = tracker.register(model_uri, "churn-classifier", tags=..., aliases=("candidate",),
                               pending_approval=True)
    tracker.approve("churn-classifier", version.version, alias="production")

Defaults: tracking URI `sqlite:///<workdir>/.mlopsc/mlflow.db` (absolute path), artifacts in
`<workdir>/.mlopsc/mlruns`. A `tracking_uri` (e.g. `http://mlflow:5000`) overrides both; the
server decides where artifacts go.

Models: a model of the spec's `training.framework` (an sklearn estimator, an `nn.Module`, ...)
is logged with that framework's MLflow flavor; any other object, and any model behind feature
transforms, is a pyfunc (`model_wrapper.FeatureModel`) that applies the transforms first and
loads without mlopsc. The signature comes from raw input rows (`relaxed_signature`).

Tags written by mlopsc (on runs and on model versions):
- `mlopsc.git_commit`, `mlopsc.git_dirty` (`true` when the work tree had changes),
  `mlopsc.spec_hash`, `mlopsc.data.<dataset>` (the version read, e.g. `sha256:...`,
  `s3:versionId:...`, `gs:generation:...`, `dvc:md5:...`), `mlopsc.model.flavor` (on the run),
  `mlopsc.run_id` (on versions: the MLflow run that produced the model);
- `mlopsc.approval`: `pending` (approval required, not yet given), `approved`, or
  `not_required`; `mlopsc.approval.required_for`: comma-separated environments;
  `mlopsc.approved_by` once approved.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
from mlflow import MlflowClient

TAG_PREFIX = "mlopsc."
STATE_DIR = ".mlopsc"


def default_tracking_uri(workdir: str | os.PathLike = ".") -> str:
    """The embedded store (one definition, in `platforms.tracking_store`)."""
    from mlopsc.runtime.platforms.tracking_store import embedded_tracking_uri

    return embedded_tracking_uri(workdir)


def default_artifact_root(workdir: str | os.PathLike = ".") -> str:
    return (Path(workdir) / STATE_DIR / "mlruns").resolve().as_uri()


# lineage helpers live in `lineage` (no MLflow import); re-exported here
from mlopsc.runtime.lineage import content_hash, git_commit, lineage_tags  # noqa: F401

# ---------------------------------------------------------------- model flavors

# training.framework -> (MLflow flavor module, the framework's top module, its model classes)
FLAVORS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "pytorch": ("mlflow.pytorch", "torch", ("nn.Module",)),
    "sklearn": ("mlflow.sklearn", "sklearn", ("base.BaseEstimator",)),
    "xgboost": ("mlflow.xgboost", "xgboost", ("Booster", "XGBModel")),
    "lightgbm": ("mlflow.lightgbm", "lightgbm", ("Booster", "LGBMModel")),
    "tensorflow": ("mlflow.tensorflow", "tensorflow", ("keras.Model",)),
}


def native_flavor(framework: str | None, model: Any) -> str | None:
    """The MLflow flavor module for `model` when it is an object of `framework` (an
    `nn.Module` for pytorch, an estimator for sklearn, ...), else None (pyfunc). The framework
    is not imported here: a model of it exists only if its module already is."""
    entry = FLAVORS.get(framework or "")
    root = sys.modules.get(entry[1]) if entry else None
    if entry is None or root is None:
        return None
    for dotted in entry[2]:
        cls: Any = root
        for part in dotted.split("."):
            cls = getattr(cls, part, None)
        if isinstance(cls, type) and isinstance(model, cls):
            return entry[0]
    return None


def relaxed_signature(example: Any, predictions: Any):
    """The signature MLflow infers from the input example, with numeric columns as `Any` and
    every input optional. MLflow's enforcement refuses int64 for a double column and a null
    (float64) for a long one, and drops columns the signature lacks: callers send JSON `25` for
    a spend, nulls the model's own code handles, or leave out what the transforms compute."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, DataType, Schema
    from mlflow.types.schema import AnyType

    inferred = infer_signature(example, predictions)
    numeric = {DataType.integer, DataType.long, DataType.float, DataType.double}
    inputs = Schema([ColSpec(AnyType() if c.type in numeric else c.type, c.name, required=False)
                     for c in inferred.inputs.inputs])
    return ModelSignature(inputs=inputs, outputs=inferred.outputs)


def _requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("mlflow", "torch", "pandas", "numpy", "scipy", "pyarrow", "cloudpickle"):
        try:
            out.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            pass
    return out


# ---------------------------------------------------------------- the tracker


class Tracker:
    """One experiment in one MLflow store (tracking and registry at the same URI)."""

    def __init__(self, workdir: str | os.PathLike = ".", experiment: str = "default",
                 tracking_uri: str | None = None):
        self.workdir = Path(workdir)
        if not tracking_uri:
            (self.workdir / STATE_DIR).mkdir(parents=True, exist_ok=True)
        self.tracking_uri = tracking_uri or default_tracking_uri(self.workdir)
        # A database on this machine keeps artifacts under the work directory (MLflow's default,
        # ./mlruns, would land in whatever directory the step ran from); a server decides its own.
        local_store = self.tracking_uri.startswith(("sqlite:", "file:")) or "://" not in self.tracking_uri
        self.artifact_root = default_artifact_root(self.workdir) if local_store else None
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        self.experiment_name = experiment
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            self.experiment_id = self.client.create_experiment(experiment, artifact_location=self.artifact_root)
        else:
            self.experiment_id = found.experiment_id

    # -- runs

    @contextmanager
    def start_run(self, run_name: str | None = None, tags: Mapping[str, str] | None = None) -> Iterator[Any]:
        """An active MLflow run in this experiment; ended FAILED if the block raises."""
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        with mlflow.start_run(experiment_id=self.experiment_id, run_name=run_name, tags=dict(tags or {})) as run:
            yield run

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Params as strings; lists and mappings as compact JSON (MLflow params are strings)."""
        mlflow.log_params({k: _param(v) for k, v in params.items()})

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        mlflow.set_tags(dict(tags))

    def log_dict(self, data: Any, artifact_file: str) -> None:
        mlflow.log_dict(data, artifact_file)

    def log_model(self, model: Any, name: str = "model", input_example: Any = None,
                  pip_requirements: list[str] | None = None, *, framework: str | None = None,
                  transforms: tuple = (), code_paths: list[str] | None = None) -> str:
        """Log `model` in the active run; return its URI.

        A model of `framework` without feature transforms is logged with that framework's flavor
        (`mlflow.sklearn`, `mlflow.pytorch`, ...). Anything else, and any model behind
        `transforms` ((function, feature columns) pairs), is a pyfunc `FeatureModel` that applies
        the transforms first; it is pickled by value with the user's code, so it loads without
        mlopsc, and `code_paths` (the user's files) travel with it. The signature is inferred
        from `input_example` (`relaxed_signature`); an `nn.Module` takes tensors, not the
        example's table, so it is logged without one.
        """
        flavor = None if transforms else native_flavor(framework, model)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*type hints.*")
            if flavor == "mlflow.pytorch":
                info = importlib.import_module(flavor).log_model(
                    model, name=name, pip_requirements=pip_requirements or _requirements())
            elif flavor is not None:
                module = importlib.import_module(flavor)
                signature = relaxed_signature(input_example, model.predict(input_example)) \
                    if input_example is not None else None
                info = module.log_model(model, name=name, input_example=input_example, signature=signature)
            else:
                info = self._log_pyfunc(model, name, input_example, pip_requirements, transforms, code_paths)
        mlflow.set_tag(TAG_PREFIX + "model.flavor", (flavor or "mlflow.pyfunc").removeprefix("mlflow."))
        return info.model_uri

    def _log_pyfunc(self, model: Any, name: str, input_example: Any, pip_requirements: list[str] | None,
                    transforms: tuple, code_paths: list[str] | None):
        import cloudpickle

        from mlopsc.runtime import model_wrapper

        wrapped = model if isinstance(model, mlflow.pyfunc.PythonModel) else \
            model_wrapper.FeatureModel(model, transforms)
        signature = None
        if input_example is not None:
            signature = relaxed_signature(input_example, wrapped.predict(None, input_example))
        cloudpickle.register_pickle_by_value(model_wrapper)  # loads where mlopsc is not installed
        return mlflow.pyfunc.log_model(
            name=name, python_model=wrapped, input_example=input_example,
            signature=signature if signature is not None else False,
            code_paths=code_paths or None, pip_requirements=pip_requirements or _requirements(),
        )

    def log_input(self, name: str, source_uri: str, version: str, df: Any, context: str = "training") -> None:
        """Record a dataset the run read: its name, source URI and the version read as the digest
        (MLflow keeps 36 characters of a digest; the whole version is the input's tag)."""
        import mlflow.data

        dataset = mlflow.data.from_pandas(df, source=source_uri, name=name, digest=version[-36:])
        mlflow.log_input(dataset, context=context, tags={TAG_PREFIX + "version": version})

    # -- registry

    def register(
        self,
        model_uri: str,
        name: str,
        *,
        tags: Mapping[str, str] | None = None,
        aliases: tuple[str, ...] = (),
        approval_required_for: tuple[str, ...] = (),
        description: str | None = None,
    ):
        """Register a new version of `name` from `model_uri` with tags and aliases.

        With `approval_required_for` (environments), the version is tagged
        `mlopsc.approval=pending`; aliases for those environments are not set here: `approve`
        sets them. Returns the MLflow `ModelVersion`.
        """
        blocked = [a for a in aliases if a in approval_required_for]
        if blocked:
            raise ValueError(f"alias {blocked[0]!r} needs approval first; call approve()")
        all_tags = dict(tags or {})
        if approval_required_for:
            all_tags[TAG_PREFIX + "approval"] = "pending"
            all_tags[TAG_PREFIX + "approval.required_for"] = ",".join(approval_required_for)
        else:
            all_tags[TAG_PREFIX + "approval"] = "not_required"
        version = mlflow.register_model(model_uri, name, tags=all_tags)
        if description:
            self.client.update_model_version(name, version.version, description=description)
        for alias in aliases:
            self.client.set_registered_model_alias(name, alias, version.version)
        return self.client.get_model_version(name, version.version)

    def approve(self, name: str, version: str | int, alias: str | None = None, approver: str | None = None):
        """Mark a version approved and point `alias` (an environment) at it."""
        v = str(version)
        self.client.set_model_version_tag(name, v, TAG_PREFIX + "approval", "approved")
        if approver:
            self.client.set_model_version_tag(name, v, TAG_PREFIX + "approved_by", approver)
        if alias:
            self.client.set_registered_model_alias(name, alias, v)
        return self.client.get_model_version(name, v)

    def set_alias(self, name: str, alias: str, version: str | int) -> None:
        self.client.set_registered_model_alias(name, alias, str(version))

    def set_version_tags(self, name: str, version: str | int, tags: Mapping[str, str]) -> None:
        for k, v in tags.items():
            self.client.set_model_version_tag(name, str(version), k, str(v))

    def version_for_alias(self, name: str, alias: str):
        """The `ModelVersion` an alias points at, or None (no such model or alias)."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version_by_alias(name, alias)
        except MlflowException:
            return None

    def load_model(self, uri: str):
        """Load a pyfunc: `models:/name@alias`, `models:/name/3`, `runs:/<id>/model`, `models:/m-...`."""
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        return mlflow.pyfunc.load_model(uri)


def _param(v: Any) -> str:
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, separators=(",", ":"), sort_keys=isinstance(v, dict))
    return str(v)
