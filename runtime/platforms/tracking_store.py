"""Which MLflow store a run or a step uses (no MLflow import: the runner and `mlopsc serve` ask
before they load anything).

The order, for `mlopsc run` and `mlopsc serve`: an explicit URI (`--tracking-uri`), else the
spec's `tracking.uri` when it resolves (`${env:...}` / `${secret:...}` set), else
`MLFLOW_TRACKING_URI`, else the embedded SQLite store under the work directory
(`sqlite:///<workdir>/.mlopsc/mlflow.db`).
"""

from __future__ import annotations

import os
from pathlib import Path

from mlopsc import ir

STATE_DIR = ".mlopsc"


def spec_tracking_uri(project: ir.Project) -> str | None:
    """The spec's `tracking.uri` with its references resolved; None when unset or unresolvable."""
    from mlopsc.runtime.stepio import RefError, resolve_value

    uri = project.tracking.uri
    if not uri:
        return None
    try:
        return resolve_value(uri) or None
    except RefError:
        return None


def embedded_tracking_uri(workdir: str | os.PathLike) -> str:
    return "sqlite:///" + str((Path(workdir) / STATE_DIR / "mlflow.db").resolve())


def resolve_tracking_uri(explicit: str | None, project: ir.Project, workdir: str | os.PathLike | None = None
                         ) -> str | None:
    """The store in the order above. Without `workdir`, None stands for the embedded store (the
    `Tracker` then also puts its artifacts under the work directory)."""
    uri = explicit or spec_tracking_uri(project) or os.environ.get("MLFLOW_TRACKING_URI") or None
    if uri is None and workdir is not None:
        return embedded_tracking_uri(workdir)
    return uri


def missing_tracking_message(project: ir.Project, target: str) -> str:
    ref = project.tracking.uri
    where = (f"the spec's tracking.uri {ref} does not resolve in this step's environment (set it as the "
             "run parameter of the same name, or in the step's environment)") if ref else (
             "the spec sets no tracking.uri and MLFLOW_TRACKING_URI is unset")
    return (f"tracking store: a {target} step needs the shared tracking server, but {where}; "
            "an MLflow store inside the step's container would be lost when it stops")


def tracking_server_problem(uri: str, timeout: float = 5.0) -> str | None:
    """One line when an http(s) tracking server does not answer its health check, else None:
    MLflow's client would retry for minutes and then print a traceback."""
    import urllib.error
    import urllib.request

    if not uri.startswith(("http://", "https://")):
        return None
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return None
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):  # answered: authentication is MLflow's business
            return None
        return f"tracking server {uri} answered its health check with HTTP {e.code}"
    except (OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return f"tracking server {uri} does not answer ({reason}); no run was logged"
