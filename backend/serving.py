"""How `labelwise serve` runs uvicorn: one place for the server's own limits (decision 0005).

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but once a request's
first byte has arrived it waits for the rest of the headers for ever: a client that sends one
header line every few seconds (slowloris) holds a connection, and a few thousand of them hold the
server's file descriptors. ``HeaderDeadlineProtocol`` closes a connection whose request headers are
not complete ``header_timeout_seconds`` after the connection opened or the previous answer ended.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from backend.settings import Settings


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's headers."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if getattr(self, "_header_deadline", None) is not None:
            self._header_deadline.cancel()  # type: ignore[union-attr]
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection whose request headers did not arrive in time")
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_deadline()  # the next request on this connection gets its own

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)


GRACEFUL_SHUTDOWN_SECONDS = 5


def uvicorn_options(settings: Settings, host: str, port: int, **more: Any) -> dict[str, Any]:
    """The keyword arguments `serve` hands to ``uvicorn.run`` (and tests to ``uvicorn.Config``)."""
    deadline = {"header_timeout": settings.header_timeout_seconds}
    protocol = type("LabelwiseHttpProtocol", (HeaderDeadlineProtocol,), deadline)
    return {
        "host": host,
        "port": port,
        "http": protocol,
        "log_level": "info",
        # A stop waits this long for open answers: job event streams and subscriptions last until
        # their job ends, so they are cut then (the client opens them again once the server is back).
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        **more,
    }


def uvicorn_config(app: Any, settings: Settings, host: str, port: int, **more: Any) -> uvicorn.Config:
    """The uvicorn configuration `serve` uses, for servers started in a thread (tests, benches)."""
    return uvicorn.Config(app, **uvicorn_options(settings, host, port, **more))
