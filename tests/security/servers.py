"""Real HTTP servers on loopback for the hostile-input tests: images, redirects, a slow drip.

Each server listens on 127.0.0.1 on a free port, answers from a small route
table and stops when its `with` block ends. Nothing here talks to any other
address.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]


class LoopbackServer:
    """`with LoopbackServer({"/a.jpg": send_bytes(data)}) as server: server.url("/a.jpg")`."""

    def __init__(self, routes: dict[str, Route] | None = None, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[str] = []
        self.stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                owner.requests.append(self.path)
                route = owner.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as the tests expect it to

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def __enter__(self) -> "LoopbackServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()  # ends slow routes
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def send_bytes(body: bytes, content_type: str = "application/octet-stream", status: int = 200,
               headers: dict[str, str] | None = None) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return route


def redirect_to(location: str, status: int = 302) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def drip(server: LoopbackServer, body: bytes, *, bytes_per_s: float = 1.0, declared: int | None = None,
         chunk: int = 1) -> Route:
    """Headers at once, then the body `chunk` bytes at a time: every read succeeds, the download never ends in time."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(declared if declared is not None else len(body)))
        handler.end_headers()
        handler.wfile.flush()
        for start in range(0, len(body), chunk):
            if server.stop.wait(chunk / bytes_per_s):
                return
            handler.wfile.write(body[start:start + chunk])
            handler.wfile.flush()

    return route


def drip_headers(server: LoopbackServer, *, bytes_per_s: float = 1.0) -> Route:
    """The status line and headers themselves, one byte at a time, forever (until the server stops)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        header = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000
        for byte in header:
            if server.stop.wait(1.0 / bytes_per_s):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    return route


def timed(call: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result or the exception raised)."""
    started = time.monotonic()
    try:
        result: object = call()
    except Exception as err:  # noqa: BLE001 - the tests inspect it
        result = err
    return time.monotonic() - started, result
