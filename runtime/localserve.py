"""Model servers and routers as local background processes, and the record of what runs where.

A local deploy step starts servers that outlive it (the next steps and the user call them), so
each server is its own process, started in a new session and recorded in
`<root>/.mlopsc/serving/<environment>.json`:

    {"environment": "production", "endpoint": "http://127.0.0.1:41234", "version": "2",
     "processes": [{"role": "router", "pid": 123, "url": ...}, {"role": "champion", "pid": ..,
                    "url": ..., "version": "2"}]}

    python -m mlopsc.runtime.localserve model --model-uri models:/m/2 --name m --version 2 --ready F
    python -m mlopsc.runtime.localserve llm --model-uri models:/m/2 --name m --version 2 --ready F
    python -m mlopsc.runtime.localserve router --champion URL [--challenger URL --rollout JSON] --ready F

A model server started for an environment captures its traffic (`capture_env`,
`captures.CaptureWriter`). A process writes its URL to the `--ready` file once it listens; SIGTERM stops it cleanly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STATE_DIR = ".mlopsc"


def serving_dir(root: Path) -> Path:
    return Path(root) / STATE_DIR / "serving"


def read_state(root: Path, environment: str) -> dict | None:
    path = serving_dir(root) / f"{environment}.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None


def write_state(root: Path, environment: str, state: dict | None) -> None:
    path = serving_dir(root) / f"{environment}.json"
    if state is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def healthy(url: str, timeout: float = 2.0) -> dict | None:
    from mlopsc.runtime.httpbase import Upstream

    try:
        status, body = Upstream(timeout=timeout).get(url.rstrip("/") + "/health")
    except OSError:
        return None
    if status != 200:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return {}


def feast_env(root: Path) -> dict[str, str]:
    """MLOPSC_FEAST_REPO for model servers when the features step built a Feast repository."""
    repo = root / ".mlopsc" / "feast"
    return {"MLOPSC_FEAST_REPO": str(repo.resolve())} if (repo / "feature_store.yaml").is_file() else {}


def capture_env(root: Path, environment: str | None) -> dict[str, str]:
    """What makes a model server capture its traffic into `.mlopsc/captures/<environment>/`."""
    if not environment:
        return {}
    directory = Path(root).resolve() / STATE_DIR / "captures" / environment
    return {"MLOPSC_CAPTURE_DIR": str(directory), "MLOPSC_CAPTURE_ENVIRONMENT": environment}


def start(kind: str, args: list[str], root: Path, name: str, timeout: float = 180.0,
          env: dict[str, str] | None = None, environment: str | None = None) -> dict:
    """Start `python -m mlopsc.runtime.localserve KIND ARGS` detached; return {pid, url, log}.
    A model server of an `environment` captures what it answers (`capture_env`)."""
    logs = serving_dir(root) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    ready = logs / f"{name}.{os.getpid()}.{time.monotonic_ns()}.ready"
    log_path = logs / f"{name}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlopsc.runtime.localserve", kind, *args, "--ready", str(ready)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, **feast_env(root), **capture_env(root, environment), **(env or {})},
        )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if ready.exists():
                url = ready.read_text(encoding="utf-8").strip()
                if url:
                    ready.unlink(missing_ok=True)
                    return {"pid": proc.pid, "url": url, "log": str(log_path)}
            if proc.poll() is not None:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"{name} server exited with code {proc.returncode} before listening:\n{tail}")
            time.sleep(0.05)
    except BaseException:  # interrupted while waiting: do not leave a server nobody knows about
        proc.kill()
        proc.wait()
        raise
    proc.kill()
    raise RuntimeError(f"{name} server did not start within {timeout:.0f} s (log: {log_path})")


def stop(pid: int | None, timeout: float = 10.0) -> None:
    if not pid or not alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_environment(root: Path, environment: str) -> None:
    state = read_state(root, environment)
    for p in (state or {}).get("processes", []):
        stop(p.get("pid"))
    write_state(root, environment, None)


def environments(root: Path) -> list[str]:
    d = serving_dir(root)
    return sorted(p.stem for p in d.glob("*.json")) if d.exists() else []


# `mlopsc serve` runs a server in the foreground, beside (not instead of) what a run deployed: it
# records itself in a file of its own while it runs, so the monitor's infrastructure check sees it.
def foreground_dir(root: Path) -> Path:
    return serving_dir(root) / "foreground"


def record_foreground(root: Path, environment: str, url: str, version: str) -> Path:
    """Record this process as a foreground server of `environment`; the record's path."""
    path = foreground_dir(root) / f"{environment}-{os.getpid()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"environment": environment, "pid": os.getpid(), "role": "serve", "url": url,
                               "version": version}, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def foreground_servers(root: Path) -> list[dict]:
    """The foreground servers still running (records of dead ones, e.g. after kill -9, are dropped)."""
    found = []
    for path in sorted(foreground_dir(root).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if alive(record.get("pid")):
            found.append(record)
        else:
            path.unlink(missing_ok=True)
    return found


# ---------------------------------------------------------------- the processes themselves


def _serve(service: Any, ready: str | None) -> None:
    def terminate(*_a: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    service.start()
    if ready:
        tmp = ready + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(service.url)
        os.replace(tmp, ready)
    service.serve_forever()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["llm"]:  # an LLM registry version: the OpenAI-compatible server (llm_server)
        from mlopsc.runtime.llm_server import serve_registered

        return serve_registered(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m mlopsc.runtime.localserve")
    sub = parser.add_subparsers(dest="kind", required=True)
    m = sub.add_parser("model")
    m.add_argument("--model-uri", required=True)
    m.add_argument("--tracking-uri")
    m.add_argument("--name", default="model")
    m.add_argument("--version")
    r = sub.add_parser("router")
    r.add_argument("--champion", required=True)
    r.add_argument("--challenger")
    r.add_argument("--rollout", help="JSON: type, steps, sample, split, window, max_error_rate, max_p99_latency_ms")
    for p in (m, r):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=0)
        p.add_argument("--ready")
    a = parser.parse_args(argv)
    if a.kind == "model":
        from mlopsc.runtime.serving import ModelServer, load_pyfunc

        model = load_pyfunc(a.model_uri, a.tracking_uri)
        if os.environ.get("MLOPSC_FEAST_REPO"):  # features.store: feast: look features up by entity key
            from mlopsc.runtime.feast_store import OnlineFeatures

            model = OnlineFeatures(model, Path(os.environ["MLOPSC_FEAST_REPO"]))
        from mlopsc.runtime.captures import CaptureWriter

        capture = CaptureWriter.from_env(model=a.name, version=a.version,
                                         environment=os.environ.get("MLOPSC_CAPTURE_ENVIRONMENT"))
        server = ModelServer(model, name=a.name, version=a.version, host=a.host, port=a.port, capture=capture)
        _serve(server, a.ready)
        return
    from mlopsc import ir
    from mlopsc.runtime.rollout import Rollout
    from mlopsc.runtime.router import Router

    rollout = None
    if a.rollout:
        spec = json.loads(a.rollout)
        rules = None
        if spec.get("max_error_rate") is not None or spec.get("max_p99_latency_ms") is not None:
            rules = ir.Rollback(spec.get("max_error_rate"), spec.get("max_p99_latency_ms"))
        rollout = Rollout(spec["type"], rules, steps=tuple(spec["steps"]) if spec.get("steps") else None,
                          window=spec.get("window"), sample=spec.get("sample"), split=spec.get("split"))
    router = Router(a.champion, a.challenger, rollout=rollout, host=a.host, port=a.port)
    _serve(router, a.ready)


if __name__ == "__main__":
    main()
