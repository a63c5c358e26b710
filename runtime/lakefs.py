"""Datasets in lakeFS: `lakefs://<repository>/<ref>/<path>`.

The ref (a branch, tag or commit) is resolved to its commit with lakeFS's API
(`GET /api/v1/repositories/{repository}/refs/{ref}/commits?amount=1`, the commit log's head), and
the object is read at that commit through lakeFS's S3 gateway (bucket = repository, key =
`<commit>/<path>`), so what is read is exactly what lineage records: `lakefs:commit:<id>`.
A requested `lakefs:commit:<id>` pins the read to that commit.

Server and credentials come from lakectl's environment variables: `LAKECTL_SERVER_ENDPOINT_URL`
(e.g. `https://lakefs.example.com`), `LAKECTL_CREDENTIALS_ACCESS_KEY_ID`,
`LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY` (the same key pair signs gateway requests). The S3 gateway
is the server's own URL unless `LAKEFS_S3_GATEWAY_URL` names another (lakeFS's
`gateways.s3.domain_name` on a separate host).
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

VERSION_PREFIX = "lakefs:commit:"


class LakeFSError(Exception):
    """One line naming the repository, ref or server."""


def split(uri: str) -> tuple[str, str, str]:
    """`lakefs://repo/ref/path` -> (repo, ref, path)."""
    parts = uri.removeprefix("lakefs://").split("/", 2)
    if len(parts) < 3 or not all(parts):
        raise LakeFSError(f"{uri} is not lakefs://<repository>/<ref>/<path>")
    return parts[0], parts[1], parts[2]


def endpoint() -> str:
    url = os.environ.get("LAKECTL_SERVER_ENDPOINT_URL", "").rstrip("/")
    if not url:
        raise LakeFSError("LAKECTL_SERVER_ENDPOINT_URL is not set (the lakeFS server's URL)")
    return url.removesuffix("/api/v1")


def _credentials() -> tuple[str, str]:
    return (os.environ.get("LAKECTL_CREDENTIALS_ACCESS_KEY_ID", ""),
            os.environ.get("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY", ""))


def commit_of(repo: str, ref: str, timeout: float = 20.0) -> str:
    """The commit a ref points at, from the head of its commit log."""
    def q(part: str) -> str:
        return urllib.parse.quote(part, safe="")

    url = f"{endpoint()}/api/v1/repositories/{q(repo)}/refs/{q(ref)}/commits?amount=1"
    key, secret = _credentials()
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if key:
        token = base64.b64encode(f"{key}:{secret}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's lakeFS
            body: Any = json.loads(response.read())
    except urllib.error.HTTPError as e:
        raise LakeFSError(f"lakeFS has no ref {ref!r} in repository {repo!r} (HTTP {e.code})") from None
    except (OSError, ValueError) as e:
        raise LakeFSError(f"lakeFS at {endpoint()} does not answer ({getattr(e, 'reason', e)})") from None
    results = body.get("results") or []
    if not results:
        raise LakeFSError(f"ref {ref!r} of lakeFS repository {repo!r} has no commits")
    return str(results[0]["id"])


def filesystem():
    """s3fs against lakeFS's S3 gateway."""
    import s3fs

    key, secret = _credentials()
    gateway = os.environ.get("LAKEFS_S3_GATEWAY_URL") or endpoint()
    return s3fs.S3FileSystem(key=key or None, secret=secret or None, client_kwargs={"endpoint_url": gateway})


def gateway_path(repo: str, commit: str, path: str) -> str:
    return f"{repo}/{commit}/{path}"
