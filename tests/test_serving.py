"""`labelwise serve`'s server against clients that misbehave on the wire: slow headers, endless
chunked forms, and DNS-rebinding Host names (the real uvicorn on a socket, as `serve` runs it)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from backend.settings import Settings
from backend.storage.database import Database
from tests.live import live_app


@pytest.fixture
def served(settings: Settings, database: Database) -> Iterator[str]:
    quick = settings.model_copy(update={"header_timeout_seconds": 1.0, "max_form_bytes": 10_000})
    with live_app(quick, run_jobs=False) as url:
        yield url


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def test_a_connection_that_trickles_its_headers_is_dropped(served: str) -> None:
    """One header line every 0.2 s would hold the connection for ever; the server closes it once
    the headers are 1 s late (header_timeout_seconds), long before the client is done."""
    with _connect(served) as sock:
        sock.sendall(b"GET /datasets HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sock.settimeout(0.2)
        closed = False
        for line in range(150):  # 30 s of trickling at most
            try:
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
            try:
                sock.sendall(f"X-Slow-{line}: 1\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        assert closed, "the server still waits for headers after 30 s"
        assert line < 100  # dropped near the 1 s deadline (5 lines), not by chance


def test_a_prompt_client_keeps_its_connection_alive(served: str) -> None:
    with httpx.Client(base_url=served) as http:
        for _ in range(3):
            assert http.get("/signin").status_code == 200
            time.sleep(0.4)  # idle between requests: the header deadline restarts per request


def test_an_endless_chunked_form_is_cut_at_the_form_limit(served: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10_000):  # 10 MB unless cut
            yield b"x=" + b"1" * 1000 + b"&"

    with httpx.Client(base_url=served) as http:
        response = http.post(
            "/signin", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
        )
    assert response.status_code == 413


def test_a_dns_rebinding_host_is_refused_without_accounts(served: str, settings: Settings) -> None:
    """evil.example resolving to 127.0.0.1 reaches the socket, but names itself in Host."""
    port = served.rsplit(":", 1)[1]
    with httpx.Client(base_url=served) as http:
        rebound = http.get("/api/v1/datasets", headers={"host": f"evil.example:{port}"})
        assert rebound.status_code == 403 and "evil.example" in rebound.text
        assert http.get("/signin", headers={"host": "evil.example"}).status_code == 200  # public
        for own in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]", "labhost"):
            assert http.get("/api/v1/datasets", headers={"host": own}).status_code == 200, own


def test_allowed_hosts_admits_a_named_host(settings: Settings, database: Database) -> None:
    named = settings.model_copy(update={"allowed_hosts": "labeler.lab.example"})
    with live_app(named, run_jobs=False) as url, httpx.Client(base_url=url) as http:
        assert http.get("/api/v1/datasets", headers={"host": "labeler.lab.example"}).status_code == 200
        assert http.get("/api/v1/datasets", headers={"host": "other.example"}).status_code == 403
