"""A real HTTP server on 127.0.0.1, in a thread, with scripted misbehaviour (a test helper).

Each route serves one body and a script: the behaviour of each successive request to it (the
last one repeats). Behaviours:

- "ok": 200 with the body, or 206 with the asked part when a Range header came and the route
  accepts ranges;
- "status:N": answer status N with a short text body;
- "drop": headers announce the full length, half the body is sent, then the connection closes;
- "stall": headers and nothing more; the server waits (until it is closed) without sending.

Every request is recorded (method, path, headers) for assertions.

    with HTTPTestServer() as server:
        url = server.add("/data.zip", body, script=["status:500", "ok"])
        ...
        assert server.requests[1].headers.get("Range") == "bytes=10-"
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_RANGE = re.compile(r"bytes=(\d+)-$")


@dataclass
class Route:
    body: bytes
    script: list[str]
    ranges: bool = True
    etag: str = '"v1"'
    served: int = 0

    def next_behaviour(self) -> str:
        behaviour = self.script[min(self.served, len(self.script) - 1)]
        self.served += 1
        return behaviour


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self.server.owner.requests.append(Recorded("GET", self.path, dict(self.headers.items())))
        route = self.server.owner.routes.get(self.path)
        if route is None:
            self._plain(404, b"no such route\n")
            return
        behaviour = route.next_behaviour()
        if behaviour.startswith("status:"):
            self._plain(int(behaviour.split(":", 1)[1]), b"scripted status\n")
            return
        BEHAVIOURS[behaviour](self, route)

    def _plain(self, status: int, text: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def _headers(self, route: Route, status: int, start: int, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("ETag", route.etag)
        if route.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{start + length - 1}/{len(route.body)}")
        self.end_headers()

    def _part(self, route: Route) -> tuple[int, int]:
        """(status, start) for this request: 206 from the asked byte when ranges apply."""
        match = _RANGE.match(self.headers.get("Range", ""))
        if route.ranges and match and self.headers.get("If-Range", route.etag) == route.etag:
            return 206, int(match.group(1))
        return 200, 0

    def ok(self, route: Route) -> None:
        status, start = self._part(route)
        self._headers(route, status, start, len(route.body) - start)
        self.wfile.write(route.body[start:])

    def drop(self, route: Route) -> None:
        status, start = self._part(route)
        rest = route.body[start:]
        self._headers(route, status, start, len(rest))
        self.wfile.write(rest[: len(rest) // 2])
        self.wfile.flush()
        self.close_connection = True

    def stall(self, route: Route) -> None:
        self._headers(route, 200, 0, len(route.body))
        self.wfile.flush()
        self.server.owner.released.wait(30)
        self.close_connection = True


BEHAVIOURS = {"ok": _Handler.ok, "drop": _Handler.drop, "stall": _Handler.stall}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: HTTPTestServer


class HTTPTestServer:
    """Start on enter, stop on exit; `add` a route, read `requests` afterwards."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Recorded] = []
        self.released = threading.Event()  # lets stalled handlers finish when the server stops
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def add(self, path: str, body: bytes, script: list[str] | None = None, ranges: bool = True) -> str:
        self.routes[path] = Route(body, script or ["ok"], ranges)
        return self.url(path)

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def __enter__(self) -> HTTPTestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
