"""DagsterClient's HTTP use: what a 10,000-product `batch status` pays for besides the webserver's answers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dagster_project.console.client import DagsterClient


class GraphQLHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the Dagster webserver (uvicorn) does
    connections: list[object] = []

    def setup(self) -> None:
        super().setup()
        GraphQLHandler.connections.append(self.client_address)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"data": {"version": "1.13"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_one_client_makes_its_requests_over_one_connection():
    # Each new HTTP client loaded the CA certificates again and opened a new connection: 60 ms a request here.
    server = ThreadingHTTPServer(("127.0.0.1", 0), GraphQLHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = DagsterClient(f"http://127.0.0.1:{server.server_address[1]}")
        assert [client.query("{ version }") for _ in range(5)] == [{"version": "1.13"}] * 5
        client.close()
        assert len(GraphQLHandler.connections) == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
