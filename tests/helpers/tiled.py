"""A real Tiled server over a tree the tests write, shared by the Tiled, accounts and secrets tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import h5py
import httpx
import numpy as np
import pytest
import tifffile

API_KEY = "tiledtestkeyZq81xPw3"  # a string that must never show up in a response or a log


ITEM_COUNT = 9


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_tree(root: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for sub in ("arrays", "images", "hdf5", "big"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    np.save(root / "arrays" / "flat.npy", rng.random((48, 64)).astype(np.float32))
    np.save(root / "arrays" / "stack.npy", rng.random((3, 32, 32)).astype(np.float32))
    tifffile.imwrite(root / "images" / "pattern.tiff", rng.integers(0, 60000, (40, 40)).astype(np.uint16))
    with h5py.File(root / "hdf5" / "run.h5", "w") as handle:
        handle["entry/data"] = rng.random((2, 24, 24))
        handle["entry/img"] = rng.random((32, 32)).astype(np.float32)
        handle["entry/time"] = np.arange(10.0)
    np.save(root / "big" / "frame.npy", rng.random((256, 256)).astype(np.float32))
    return root


class TiledServer:
    """``tiled serve directory`` in a subprocess: start, wait until indexed, stop, start again."""

    def __init__(self, directory: Path, log_path: Path, api_key: str = API_KEY, port: int | None = None):
        self.directory = directory
        self.log_path = log_path
        self.api_key = api_key
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"tiled+http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        command = [
            sys.executable, "-m", "tiled", "serve", "directory", str(self.directory),
            "--host", "127.0.0.1", "--port", str(self.port), "--api-key", self.api_key,
        ]  # fmt: skip
        before = self.log_path.read_text().count("Indexing complete") if self.log_path.exists() else 0
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tiled serve exited early:\n{self.log_path.read_text()[-3000:]}")
            if self.log_path.read_text().count("Indexing complete") > before and self._answers():
                return
            time.sleep(0.2)
        self.stop()
        tail = self.log_path.read_text()[-3000:]
        raise RuntimeError(f"tiled serve did not come up in {timeout} s:\n{tail}")

    def _answers(self) -> bool:
        try:
            response = httpx.get(
                f"http://127.0.0.1:{self.port}/api/v1/search/",
                headers={"Authorization": f"Apikey {self.api_key}"},
                timeout=2.0,
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None


@pytest.fixture(scope="session")
def tiled_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("tiled-data"))


@pytest.fixture(scope="session")
def tiled_server(tiled_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TiledServer]:
    server = TiledServer(tiled_tree, tmp_path_factory.mktemp("tiled-log") / "tiled.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
