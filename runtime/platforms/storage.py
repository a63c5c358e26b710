"""Reading data and artifacts. Today every platform reads local paths (and `file://` URIs)
only; a platform with remote storage (`s3://`, `gs://`) gets its own `Storage` later, and the
steps that read through `platform.storage` follow without change."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from mlopsc import ir
from mlopsc.runtime.steps import StepFailed, read_json, write_json


class Storage(Protocol):
    """What the steps read and write through a platform; a remote store implements the same."""

    def resolve(self, uri: str, base: Path) -> Path: ...
    def read_dataset(self, ds: ir.Dataset, spec_dir: Path) -> Any: ...
    def read_table(self, path: Path) -> Any: ...
    def read_json(self, path: Path) -> Any: ...
    def write_json(self, path: Path, value: Any) -> None: ...


class LocalStorage:
    """Local files: dataset URIs relative to the spec, data files relative to the work directory."""

    def resolve(self, uri: str, base: Path) -> Path:
        """A dataset URI as a local path (relative URIs against `base`, the spec's directory)."""
        if uri.startswith("file://"):
            from urllib.parse import unquote, urlsplit

            return Path(unquote(urlsplit(uri).path))
        if "://" in uri:
            raise StepFailed(
                f"dataset uri {uri!r} is not a local path: this runtime reads datasets from local paths "
                "only (reading s3:// or gs:// directly is not implemented yet); use a path relative to the spec"
            )
        p = Path(uri)
        return p if p.is_absolute() else base / p

    def read_dataset(self, ds: ir.Dataset, spec_dir: Path) -> Any:
        """A declared dataset as a DataFrame."""
        from mlopsc.runtime.datafiles import read

        path = self.resolve(ds.uri, spec_dir)
        if not path.exists():
            raise StepFailed(f"dataset {ds.name!r}: {path} does not exist")
        return read(path, ds.format)

    def read_table(self, path: Path) -> Any:
        """A data file handed to a step (`--arg data=FILE`) as a DataFrame, format by suffix."""
        from mlopsc.runtime.datafiles import read

        if not path.exists():
            raise StepFailed(f"data file {path} does not exist")
        return read(path)

    def read_json(self, path: Path) -> Any:
        return read_json(path)

    def write_json(self, path: Path, value: Any) -> None:
        write_json(path, value)
