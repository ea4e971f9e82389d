"""The real app under uvicorn on a free port in a thread: for browsers and HTTP clients."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from backend.settings import Settings


@contextmanager
def live_app(settings: Settings, *, run_jobs: bool = True, port: int | None = None) -> Iterator[str]:
    """Serve ``create_app(settings)`` on 127.0.0.1 (a free port unless ``port``); yields the base
    URL; stops it after."""
    import uvicorn

    from backend.app import create_app
    from backend.serving import uvicorn_config

    if port is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    app = create_app(settings, run_jobs=run_jobs)
    config = uvicorn_config(app, settings, "127.0.0.1", port, log_level="warning")  # as `serve` runs
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
