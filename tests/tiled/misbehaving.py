"""A server that speaks just enough of Tiled's API to misbehave, which a real ``tiled serve`` never does.

- ``/api/v1/metadata/<anything>``: a container, except ``redirect`` (302) and ``teapot`` (418),
  whose bodies hold an "internal" page and the Authorization header sent (as a leaky proxy might);
- ``/api/v1/search/<anything>``: a full page of 100 containers, forever (no count), after
  ``delay`` seconds each.

It counts the requests it gets, so a test can tell whether the server was asked at all.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INTERNAL = "internal-admin-page-Kx71"


class _Handler(BaseHTTPRequestHandler):
    server: MisbehavingTiled  # type: ignore[assignment]

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        owner = self.server
        with owner.lock:
            owner.requests += 1
        path = self.path.split("?", 1)[0]
        if path.startswith("/api/v1/metadata/"):
            node = path[len("/api/v1/metadata/") :].strip("/")
            if node in ("redirect", "teapot"):
                # The key starts at character 194: a cut at 200 keeps its first 6 characters.
                leak = f"{INTERNAL} {'x' * 157}auth={self.headers.get('Authorization', '')} end"
                status = 302 if node == "redirect" else 418
                self._send(status, leak.encode(), {"Location": "http://10.0.0.1/admin"})
                return
            body = {"data": {"id": node, "attributes": {"structure_family": "container", "structure": {}}}}
            self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
            return
        if path.startswith("/api/v1/search/"):
            time.sleep(owner.delay)
            with owner.lock:
                owner.pages += 1
                start = owner.pages * 1000
            data = [
                {"id": f"n{start + i}", "attributes": {"structure_family": "container", "structure": {}}}
                for i in range(100)
            ]
            self._send(
                200, json.dumps({"data": data, "meta": {}}).encode(), {"Content-Type": "application/json"}
            )
            return
        self._send(404, b"{}")


class MisbehavingTiled(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.lock = threading.Lock()
        self.requests = 0
        self.pages = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    @property
    def uri(self) -> str:
        return f"tiled+http://{self.netloc}"

    def __enter__(self) -> MisbehavingTiled:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
