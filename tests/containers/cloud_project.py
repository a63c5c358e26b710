"""The flagship example (specs/churn.yaml) as a project the container tests build and run: the
same spec with its data in a test bucket and sized for a 2-core machine.

What changes and why (everything else is the example as users read it):
- data at `s3://acme-ml/churn/` (moto) or `gs://acme-ml/churn/` (the GCS emulator), versioned by
  the store itself (`hash`: the S3 VersionId / GCS generation is what lineage records), since a
  `.dvc` file would need a DVC remote;
- `features.store: inline` (Feast is its own issue), no GPU, spot, checkpoints or sweep (one CPU
  training job), fewer epochs; the evaluation thresholds of specs/churn-local.yaml;
- no monitoring or cost sections (not part of the train pipeline);
- the image is built from the offline Debian base the tests make, tagged locally.
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "mlopsc-churn-ci"
SPEC_NAME = "churn.yaml"


def cloud_spec(data_root: str, base_image: str) -> dict:
    spec = yaml.safe_load((ROOT / "specs" / "churn.yaml").read_text(encoding="utf-8"))
    spec["image"] = {"base": base_image, "requirements": "churn_local/requirements.txt", "repository": REPOSITORY}
    data = spec["data"]
    data["versioning"] = "hash"
    data["datasets"]["customers"]["uri"] = f"{data_root}/customers.parquet"
    data["datasets"]["customers"].pop("version", None)
    data["datasets"]["holdout"]["uri"] = f"{data_root}/holdout.parquet"
    spec["features"]["store"] = "inline"
    training = spec["training"]
    training["hyperparameters"] = {"lr": 0.005, "epochs": 8, "hidden": [32, 16], "batch_size": 512}
    training["resources"] = {"cpu": 2, "memory": "4Gi"}
    for key in ("spot", "checkpoints", "sweep"):
        training.pop(key, None)
    spec["evals"]["metrics"] = {"auc": {"min": 0.85}, "f1": {"min": 0.65}, "p95_latency_ms": {"max": 200}}
    for key in ("monitoring", "cost"):
        spec.pop(key, None)
    spec["triggers"] = {"schedule": spec["triggers"]["schedule"]}
    return spec


def write_project(dest: Path, data_root: str, base_image: str) -> Path:
    """The project directory (spec + the example's code); returns the spec's path."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "specs" / "churn_local", dest / "churn_local",
                    ignore=shutil.ignore_patterns("data", "__pycache__"), dirs_exist_ok=True)
    spec = dest / SPEC_NAME
    spec.write_text(yaml.safe_dump(cloud_spec(data_root, base_image), sort_keys=False), encoding="utf-8")
    return spec


def parquet(rows: int, seed: int, drift: float = 0.0) -> bytes:
    """A customers/holdout table from the example's generator, as parquet bytes."""
    sys.path.insert(0, str(ROOT / "specs" / "churn_local"))
    try:
        import make_data
    finally:
        sys.path.pop(0)
    buf = io.BytesIO()
    make_data.generate(rows, seed=seed, drift=drift).to_parquet(buf)
    return buf.getvalue()


def datasets(seed: int = 1) -> dict[str, bytes]:
    """The two objects a run reads; another seed is 'new data arrived'."""
    return {"customers.parquet": parquet(12_000, seed), "holdout.parquet": parquet(10_000, seed + 100)}
