"""Reading data through a platform: one `DataStorage` for every target. Dataset URIs (local
paths relative to the spec, `file://`, `s3://`, `gs://`, a DVC version) go through
`mlopsc.runtime.storage`, which also says which version was read; data files handed to a step
(`--arg data=FILE`, a step's input directory) are local paths. Every storage failure is a
one-line `StepFailed` naming the dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from mlopsc import ir
from mlopsc.runtime import storage as store
from mlopsc.runtime.steps import StepFailed, read_json, write_json

# Versions `runtime.storage` records but cannot read by: checked against what is there instead.
CHECKED_VERSIONS = ("s3:etag:", "dvc:md5:")


class Storage(Protocol):
    """What the steps read and write through a platform."""

    def resolve(self, uri: str, base: Path) -> Path | str: ...
    def resolve_dataset(self, ds: ir.Dataset, spec_dir: Path, requested: str | None = None) -> store.Resolved: ...
    def read_dataset(self, ds: ir.Dataset, spec_dir: Path, requested: str | None = None) -> Any: ...
    def read_resolved(self, resolved: store.Resolved, fmt: str | None = None) -> Any: ...
    def read_table(self, path: Path | str) -> Any: ...
    def read_json(self, path: Path) -> Any: ...
    def write_json(self, path: Path, value: Any) -> None: ...


class DataStorage:
    """Datasets from local disk or object storage (fsspec), with the version actually read."""

    def resolve(self, uri: str, base: Path) -> Path | str:
        """A local URI as a path (relative ones against `base`, the spec's directory); a remote
        URI (`s3://`, `gs://`) unchanged, for `read_table`."""
        return uri if store.is_remote(uri) else store.local_path(uri, base)

    def resolve_dataset(self, ds: ir.Dataset, spec_dir: Path, requested: str | None = None) -> store.Resolved:
        """The object and version `ds` reads; `requested` (`latest`, `dvc:<file>.dvc`, an S3
        version id, a GCS generation, a content hash) pins it, else the spec's `version`."""
        try:
            if requested and requested.startswith(CHECKED_VERSIONS):
                return self._resolve_checked(ds, spec_dir, requested)
            return store.resolve(ds.name, ds.uri, requested or ds.version, spec_dir)
        except store.StorageError as e:
            raise StepFailed(str(e)) from None

    @staticmethod
    def _resolve_checked(ds: ir.Dataset, spec_dir: Path, requested: str) -> store.Resolved:
        """A recorded version that cannot address an object (an ETag, a DVC md5, e.g. from the
        `resolve_data` step): resolve as the spec says and require that version."""
        how = ds.version if requested.startswith("dvc:md5:") else "latest"
        resolved = store.resolve(ds.name, ds.uri, how, spec_dir)
        if resolved.version != requested:
            raise StepFailed(f"dataset {ds.name!r}: version {requested} was requested but {resolved.source_uri} "
                             f"now holds {resolved.version}")
        return resolved

    def read_resolved(self, resolved: store.Resolved, fmt: str | None = None) -> Any:
        try:
            return store.read_table(resolved, fmt)
        except store.StorageError as e:
            raise StepFailed(str(e)) from None

    def read_dataset(self, ds: ir.Dataset, spec_dir: Path, requested: str | None = None) -> Any:
        """A declared dataset as a DataFrame."""
        return self.read_resolved(self.resolve_dataset(ds, spec_dir, requested), ds.format)

    def read_table(self, path: Path | str) -> Any:
        """A data file handed to a step (`--arg data=FILE`, or a remote URI), format by suffix."""
        if isinstance(path, str) and store.is_remote(path):
            name = Path(path.split("?")[0]).name
            try:
                return store.read_table(store.resolve(name, path, None, Path(".")))
            except store.StorageError as e:
                raise StepFailed(str(e)) from None
        from mlopsc.runtime.datafiles import read

        path = Path(path)
        if not path.exists():
            raise StepFailed(f"data file {path} does not exist")
        return read(path)

    def read_json(self, path: Path) -> Any:
        return read_json(path)

    def write_json(self, path: Path, value: Any) -> None:
        write_json(path, value)


# The name the platforms and tests used while only local paths were read.
LocalStorage = DataStorage
