"""Datasets in object storage or on disk, read through fsspec, with the version actually read.

A dataset's `uri` may be a local path (relative to the spec), `file://`, `s3://` (s3fs) or
`gs://` (gcsfs). What lineage and the cache key record is the object's own version:

| where | recorded version |
|---|---|
| local file | `sha256:<hex>` of its bytes |
| S3 | `s3:versionId:<id>` on a versioned bucket, else `s3:etag:<etag>` |
| GCS | `gs:generation:<n>` |
| `version: dvc:<file>.dvc` | `dvc:md5:<md5>`: the object in the DVC remote's cache (`files/md5/ab/cdef...`), its md5 checked |
| `lakefs://repo/ref/path` | `lakefs:commit:<id>`: the ref's commit, read at that commit through lakeFS's S3 gateway (`lakefs.py`) |

A requested version pins what is read: an S3 version id or a GCS generation is read as that
version; for a local file it must equal the content hash. Endpoints come from the environment,
as the platform SDKs read them (`AWS_ENDPOINT_URL`, `STORAGE_EMULATOR_HOST`).
Every failure is a `StorageError` whose message names the dataset and the store, on one line.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LATEST = ("", "latest")


class StorageError(Exception):
    """A dataset cannot be resolved or read; the message names it (one line)."""


@dataclass(frozen=True)
class Resolved:
    """The object a dataset resolves to: where it is and the version that will be read."""

    dataset: str
    uri: str  # what is read (a DVC dataset resolves to its remote cache object)
    version: str  # what lineage and the cache key record
    source_uri: str  # the dataset's uri as the spec says it

    @property
    def scheme(self) -> str:
        return self.uri.split("://", 1)[0] if "://" in self.uri else "file"


def _filesystem(uri: str):
    import fsspec

    try:
        if uri.startswith("lakefs://"):
            from mlopsc.runtime import lakefs

            return lakefs.filesystem(), uri.removeprefix("lakefs://")
        if uri.startswith("gs://") and os.environ.get("STORAGE_EMULATOR_HOST"):
            return _emulated_gcs(uri)
        options: dict[str, Any] = {"version_aware": True} if uri.startswith(("s3://", "gs://")) else {}
        return fsspec.core.url_to_fs(uri, **options)
    except ImportError as e:
        raise StorageError(f"reading {uri} needs {e.name or 'an fsspec backend'} (pip install s3fs / gcsfs)") from None


def filesystem(uri: str):
    """(fsspec filesystem, path) for a remote URI, as datasets are read (emulators included)."""
    return _filesystem(uri)


def _emulated_gcs(uri: str):
    """gcsfs against a GCS emulator: no credentials (looking for them would ask the GCE metadata
    server), and the plain JSON-API filesystem (the extended one probes the bucket over gRPC,
    which emulators do not serve, and waits a minute)."""
    from gcsfs.core import GCSFileSystem

    fs = GCSFileSystem(token="anon", version_aware=True)
    return fs, fs._strip_protocol(uri)


def local_path(uri: str, spec_dir: Path) -> Path:
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        return Path(unquote(urlsplit(uri).path))
    p = Path(uri)
    return p if p.is_absolute() else spec_dir / p


def is_remote(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file://")


def resolve(dataset: str, uri: str, requested: str | None, spec_dir: Path) -> Resolved:
    """Which object and version `dataset` reads, given the run's requested version."""
    requested = (requested or "").strip()
    if requested.startswith("dvc:"):
        return _resolve_dvc(dataset, uri, spec_dir / requested[4:], spec_dir)
    if uri.startswith("lakefs://"):
        return _resolve_lakefs(dataset, uri, requested)
    if not is_remote(uri):
        return _resolve_local(dataset, uri, requested, spec_dir)
    return _resolve_remote(dataset, uri, requested)


def _resolve_local(dataset: str, uri: str, requested: str, spec_dir: Path) -> Resolved:
    path = local_path(uri, spec_dir)
    if not path.is_file():
        raise StorageError(f"dataset {dataset!r}: {path} does not exist")
    version = "sha256:" + _sha256(path)
    if requested not in LATEST and requested != version:
        raise StorageError(f"dataset {dataset!r}: version {requested} was requested but {path} holds {version}")
    return Resolved(dataset, str(path), version, uri)


def _resolve_remote(dataset: str, uri: str, requested: str) -> Resolved:
    info = _info(dataset, uri, requested)
    if uri.startswith("s3://"):
        if info.get("VersionId") and info["VersionId"] != "null":
            return Resolved(dataset, uri, f"s3:versionId:{info['VersionId']}", uri)
        return Resolved(dataset, uri, f"s3:etag:{str(info.get('ETag', '')).strip(chr(34))}", uri)
    if uri.startswith("gs://"):
        return Resolved(dataset, uri, f"gs:generation:{info.get('generation')}", uri)
    return Resolved(dataset, uri, f"{uri.split('://')[0]}:etag:{info.get('ETag') or info.get('mtime')}", uri)


def _versioned_path(uri: str, requested: str) -> str:
    """The fsspec path that reads one version: `?versionId=` (s3fs) or `#generation` (gcsfs)."""
    if requested in LATEST:
        return uri
    for prefix in ("s3:versionId:", "gs:generation:"):
        requested = requested.removeprefix(prefix)
    return f"{uri}?versionId={requested}" if uri.startswith("s3://") else f"{uri}#{requested}"


def _info(dataset: str, uri: str, requested: str = "") -> dict[str, Any]:
    fs, path = _filesystem(_versioned_path(uri, requested))
    try:
        return fs.info(path)
    except FileNotFoundError:
        raise StorageError(f"dataset {dataset!r}: {uri} does not exist"
                           + (f" in version {requested}" if requested not in LATEST else "")) from None
    except Exception as e:  # noqa: BLE001 - the store's own error, on one line
        raise StorageError(f"dataset {dataset!r}: cannot reach {uri}: {_one_line(e)}") from None


def read_bytes(r: Resolved) -> bytes:
    """The bytes of the resolved object, exactly the version recorded."""
    if r.scheme == "file":
        return Path(r.uri).read_bytes()
    requested = r.version if r.version.startswith(("s3:versionId:", "gs:generation:")) else ""
    fs, path = _filesystem(_versioned_path(r.uri, requested))
    try:
        with fs.open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise StorageError(f"dataset {r.dataset!r}: {r.uri} does not exist") from None
    except Exception as e:  # noqa: BLE001
        raise StorageError(f"dataset {r.dataset!r}: cannot read {r.uri}: {_one_line(e)}") from None
    if r.version.startswith("dvc:md5:") and hashlib.md5(data).hexdigest() != r.version[8:]:
        raise StorageError(f"dataset {r.dataset!r}: {r.uri} does not match the md5 {r.version[8:]} of its .dvc file")
    return data


def read_table(r: Resolved, fmt: str | None = None):
    """A DataFrame of the resolved object (parquet, csv, jsonl, json by `fmt` or the uri's suffix)."""
    import pandas as pd

    fmt = fmt or Path(r.source_uri.split("?")[0]).suffix.lower().lstrip(".") or "parquet"
    data = io.BytesIO(read_bytes(r))
    readers = {"parquet": pd.read_parquet, "csv": pd.read_csv,
               "jsonl": lambda b: pd.read_json(b, lines=True), "json": lambda b: pd.read_json(b, orient="records")}
    if fmt not in readers:
        raise StorageError(f"dataset {r.dataset!r}: unknown data format {fmt!r}")
    try:
        return readers[fmt](data)
    except Exception as e:  # noqa: BLE001 - a corrupt file is the dataset's problem, said in one line
        raise StorageError(f"dataset {r.dataset!r}: {r.uri} is not valid {fmt}: {_one_line(e)}") from None


# ---------------------------------------------------------------- lakeFS


def _resolve_lakefs(dataset: str, uri: str, requested: str) -> Resolved:
    """The ref's commit (or the requested one); the object read at that commit."""
    from mlopsc.runtime import lakefs

    try:
        repo, ref, path = lakefs.split(uri)
        if requested not in LATEST and not requested.startswith(lakefs.VERSION_PREFIX):
            raise lakefs.LakeFSError(f"version {requested} is not {lakefs.VERSION_PREFIX}<id>")
        commit = requested.removeprefix(lakefs.VERSION_PREFIX) if requested not in LATEST \
            else lakefs.commit_of(repo, ref)
    except lakefs.LakeFSError as e:
        raise StorageError(f"dataset {dataset!r}: {e}") from None
    at_commit = "lakefs://" + lakefs.gateway_path(repo, commit, path)
    _info(dataset, at_commit)
    return Resolved(dataset, at_commit, lakefs.VERSION_PREFIX + commit, uri)


# ---------------------------------------------------------------- DVC


def _resolve_dvc(dataset: str, uri: str, dvc_file: Path, spec_dir: Path) -> Resolved:
    """A `.dvc` file's md5 and the DVC remote's url (`.dvc/config` above it) give the object."""
    import yaml

    if not dvc_file.is_file():
        raise StorageError(f"dataset {dataset!r}: {dvc_file} does not exist")
    try:
        # BaseLoader keeps every scalar a string: an all-digit md5 must not become an int.
        outs = (yaml.load(dvc_file.read_text(encoding="utf-8"), Loader=yaml.BaseLoader) or {}).get("outs") or []
        md5 = str(outs[0]["md5"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError, AttributeError):
        raise StorageError(f"dataset {dataset!r}: {dvc_file} is not a DVC file with an `outs[0].md5`") from None
    remote = dvc_remote_url(dvc_file.parent)
    if remote is None:
        local = local_path(uri, spec_dir) if not is_remote(uri) else None
        if local is not None and local.is_file():  # a checkout with the data pulled: read it, check its md5
            return Resolved(dataset, str(local), f"dvc:md5:{md5}", uri)
        raise StorageError(f"dataset {dataset!r}: no DVC remote configured for {dvc_file} (.dvc/config [core] remote)")
    target = f"{remote.rstrip('/')}/files/md5/{md5[:2]}/{md5[2:]}"
    if not is_remote(target) and not Path(target).is_file():
        raise StorageError(f"dataset {dataset!r}: the DVC remote has no object {md5} ({target})")
    if is_remote(target):
        _info(dataset, target)
    return Resolved(dataset, target, f"dvc:md5:{md5}", uri)


def dvc_remote_url(start: Path) -> str | None:
    """The default remote's url from the nearest `.dvc/config` at or above `start`."""
    import configparser

    for folder in (start, *start.parents):
        config = folder / ".dvc" / "config"
        if config.is_file():
            parser = configparser.ConfigParser()
            parser.read(config, encoding="utf-8")
            name = parser.get("core", "remote", fallback=None)
            # DVC writes the header as ['remote "name"']; configparser keeps the quotes.
            section = next((s for s in parser.sections() if s.strip("'") == f'remote "{name}"'), None)
            if name and section:
                url = parser.get(section, "url", fallback=None)
                return url if url is None or is_remote(url) else str((folder / url).resolve())
            return None
    return None


# ---------------------------------------------------------------- helpers


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:300]


def environment_hint() -> str:
    """Which endpoints are in effect, for error messages and logs."""
    found = [f"{k}={os.environ[k]}" for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "STORAGE_EMULATOR_HOST")
             if os.environ.get(k)]
    return ", ".join(found) or "default endpoints"
