"""Shared plumbing for the runtime's small HTTP services (model server, router).

Standard library only: a `ThreadingHTTPServer` speaking HTTP/1.1 with keep-alive, started on a
background thread, bound to 127.0.0.1 by default, port 0 picking a free port.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY_BYTES = 64 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not block stop()
    allow_reuse_address = True


class JSONHandler(BaseHTTPRequestHandler):
    """Base handler: HTTP/1.1, quiet logs, JSON helpers. `self.server.service` is the owner."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stalls
    timeout = 60  # seconds an idle keep-alive connection is kept

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def service(self):
        return self.server.service  # type: ignore[attr-defined]

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            raise ValueError(f"request body of {length} bytes is too large")
        return self.rfile.read(length) if length else b""

    def read_body_or_refuse(self) -> bytes | None:
        """The body, or None after answering 413 and closing (the unread body is still on the wire)."""
        try:
            return self.read_body()
        except ValueError as e:
            self.close_connection = True
            self.send_json(413, {"error": str(e)}, {"Connection": "close"})
            return None

    def send_bytes(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: dict | None = None) -> None:
        body = (json.dumps(payload) + "\n").encode()
        self.send_bytes(status, body, "application/json", headers)


class HTTPService:
    """Start/stop a handler class on a background thread; usable as a context manager."""

    handler_class: type[JSONHandler] = JSONHandler

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("service is not running")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self):
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), self.handler_class)
        server.service = self  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Run in the foreground until interrupted (for `mlopsc serve`-style commands)."""
        self.start()
        try:
            assert self._thread is not None
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Upstream:
    """A tiny keep-alive HTTP client: one connection per (thread, host) for forwarding requests."""

    _RETRYABLE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)

    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout
        self._local = threading.local()

    def request(self, method: str, url: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, bytes, dict]:
        """Return (status, body, headers); raise OSError when the upstream can't be reached."""
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        key = (parts.scheme, parts.netloc)
        pool = self._local.__dict__.setdefault("conns", {})
        for attempt in (0, 1):
            conn = pool.get(key)
            fresh = conn is None
            if conn is None:
                cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
                conn = pool[key] = cls(parts.netloc, timeout=self.timeout)
            try:
                conn.request(method, target, body=body, headers=headers or {})
                resp = conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    pool.pop(key, None)
                return resp.status, data, dict(resp.getheaders())
            except (http.client.RemoteDisconnected, *self._RETRYABLE):
                conn.close()
                pool.pop(key, None)
                if fresh or attempt == 1:
                    raise
            except Exception:
                conn.close()
                pool.pop(key, None)
                raise
        raise AssertionError("unreachable")

    def post_json(self, url: str, payload: Any) -> tuple[int, Any]:
        status, body, _ = self.request("POST", url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        try:
            return status, json.loads(body or b"null")
        except ValueError:
            return status, body.decode("utf-8", "replace")

    def get(self, url: str) -> tuple[int, bytes]:
        status, body, _ = self.request("GET", url)
        return status, body
