"""Abuse: does one hostile client stall everyone else? (issue 22, decision 0005)

`python -m bench abuse [--scale 1.0] [--probes 20] [--attack-seconds 20]`

Serves the real app the way `labelwise serve` does (a separate process, loopback only), then for
each attack measures how long a second client's normal page request (GET /datasets) takes while
the attack runs, beside the same request's time with no attack. Target: < 500 ms throughout.

Attacks (``--scale`` shrinks the big ones for a quick run):
- form: a 63 MB url-encoded sign-in form of 21 million fields (unauthenticated);
- fragments: a 1 MB GraphQL query of fragment spreads;
- aliases: a GraphQL query asking 5 aliases of the unpaged ``labels`` field;
- bigimage: a full-resolution render of a 64-megapixel image;
- slowheaders: 200 connections that trickle their headers;
- textplain: cross-site style ``text/plain`` JSON posts to POST /api/v1/users.
Each attack is bounded: at most ``--rounds`` repeats and ``--attack-seconds`` (its sockets are
closed after that).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from bench._common import scratch_settings

PROBE = "/datasets"
TARGET_S = 0.5
Image.MAX_IMAGE_PIXELS = None  # we write the big image ourselves


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _served(settings, root: Path, header_timeout: float) -> Iterator[str]:
    """`labelwise serve` in its own process (the bench's clients must not share its GIL)."""
    port = _free_port()
    env = {
        **os.environ,
        "LABELWISE_DATA_DIR": str(settings.data_dir),
        "LABELWISE_DATA_ROOTS": settings.data_roots,
        "LABELWISE_DATABASE_URL": settings.database_url,
        "LABELWISE_HEADER_TIMEOUT_SECONDS": str(header_timeout),
    }
    log = (root / "serve.log").open("w")
    command = [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/signin", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the server did not start; see {root / 'serve.log'}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def _probe_once(url: str) -> float:
    start = time.perf_counter()
    try:
        httpx.get(f"{url}{PROBE}", timeout=60).raise_for_status()
    except httpx.HTTPError:
        return float("inf")
    return time.perf_counter() - start


def _baseline(url: str, probes: int) -> list[float]:
    return [_probe_once(url) for _ in range(probes)]


Attack = Callable[[threading.Event], str]


def _rounds(attack: Attack, stop: threading.Event, rounds: int) -> str:
    """The attack again and again (at most ``rounds`` times) until told to stop."""
    outcome, done = "", 0
    while done < rounds and not stop.is_set():
        outcome = attack(stop)
        done += 1
    return f"{outcome}; {done} round(s)"


def _under_attack(url: str, attack: Attack, seconds: float, rounds: int) -> tuple[list[float], str]:
    """Probe the page every 50 ms while ``attack`` runs in a thread (stopped after ``seconds``)."""
    stop = threading.Event()
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(_rounds(attack, stop, rounds)), daemon=True)
    thread.start()
    time.sleep(0.2)  # let the attack reach the server
    times: list[float] = []
    deadline = time.monotonic() + seconds
    while thread.is_alive() and time.monotonic() < deadline:
        times.append(_probe_once(url))
        time.sleep(0.05)
    stop.set()
    thread.join(seconds)
    if not times:
        times.append(_probe_once(url))
    return times, (outcome[0] if outcome else "still running when stopped")


def _raw_post(url: str, path: str, headers: dict[str, str], body: bytes, stop: threading.Event) -> str:
    host, port = url.removeprefix("http://").split(":")
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        try:
            sock.sendall(head.encode())
            view = memoryview(body)
            for start in range(0, len(body), 1 << 20):
                if stop.is_set():
                    return "stopped while sending"
                sock.sendall(view[start : start + (1 << 20)])
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused early: the answer is waiting
        try:
            status = sock.recv(200).split(b"\r\n", 1)[0].decode(errors="replace")
        except (TimeoutError, ConnectionResetError):
            status = "no answer"
    return status or "connection closed"


def form_attack(url: str, scale: float) -> Callable[[threading.Event], str]:
    fields = int(21_000_000 * scale)
    body = b"a=&" * fields
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    return lambda stop: _raw_post(url, "/signin", form, body, stop) + f" ({len(body) / 1e6:.0f} MB)"


def fragments_attack(url: str, scale: float) -> Callable[[threading.Event], str]:
    spreads = "...F " * int(200_000 * scale)
    query = f"query {{ {spreads} }} fragment F on Query {{ datasets {{ id name }} }}"
    return lambda stop: _graphql(url, query)


def aliases_attack(url: str, dataset_id: int) -> Callable[[threading.Event], str]:
    fields = " ".join(f"a{i}: labels(datasetId: {dataset_id}) {{ itemId labelIds }}" for i in range(5))
    return lambda stop: _graphql(url, f"{{ {fields} }}")


def _graphql(url: str, query: str) -> str:
    try:
        answer = httpx.post(f"{url}/graphql", json={"query": query}, timeout=120)
    except httpx.HTTPError as exc:
        return f"client error {type(exc).__name__}"
    sizes = f"{len(query) / 1e6:.2f} MB query, {len(answer.content) / 1e6:.2f} MB answer"
    return f"{answer.status_code} ({sizes})"


def bigimage_attack(url: str, item_id: int) -> Callable[[threading.Event], str]:
    def attack(stop: threading.Event) -> str:
        try:
            answer = httpx.get(f"{url}/api/v1/items/{item_id}/image", timeout=120)
        except httpx.HTTPError as exc:
            return f"client error {type(exc).__name__}"
        return f"{answer.status_code} ({len(answer.content) / 1e6:.1f} MB PNG)"

    return attack


def slowheaders_attack(url: str, connections: int) -> Callable[[threading.Event], str]:
    def attack(stop: threading.Event) -> str:
        host, port = url.removeprefix("http://").split(":")
        socks = []
        for _ in range(connections):
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(f"GET /datasets HTTP/1.1\r\nHost: {host}:{port}\r\n".encode())
            socks.append(sock)
        dropped, line = 0, 0
        while not stop.is_set() and socks:
            line += 1
            for sock in list(socks):
                try:
                    sock.sendall(f"X-Slow-{line}: 1\r\n".encode())
                except OSError:
                    socks.remove(sock)
                    dropped += 1
            time.sleep(1.0)
        for sock in socks:
            sock.close()
        return f"{dropped} of {connections} slow connections dropped by the server"

    return attack


def textplain_attack(url: str, count: int) -> Callable[[threading.Event], str]:
    forged = '{"name": "mallory", "role": "admin", "password": "correct horse=battery"}'

    def attack(stop: threading.Event) -> str:
        statuses: dict[int, int] = {}
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(count):
                if stop.is_set():
                    break
                answer = http.post("/api/v1/users", content=forged, headers={"content-type": "text/plain"})
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        return "statuses " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))

    return attack


def _dataset(url: str, root: Path, megapixels: float, count: int) -> tuple[int, int]:
    """``count`` small labeled images and one big one; returns (dataset id, the big item's id)."""
    folder = root / "roots" / "abuse"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(folder / f"small_{i:06d}.png")
    side = int((megapixels * 1e6) ** 0.5)
    noise = rng.integers(0, 255, (side, side), dtype=np.uint8)  # incompressible: a big answer
    Image.fromarray(noise).save(folder / "big.png", compress_level=1)
    made = httpx.post(f"{url}/api/v1/datasets", json={"name": "abuse", "sources": [str(folder)]}, timeout=300)
    made.raise_for_status()
    dataset_id = made.json()["dataset"]["id"]
    classes = httpx.post(f"{url}/api/v1/datasets/{dataset_id}/classes", json={"name": "ring"}, timeout=30)
    ids: dict[str, int] = {}
    while len(ids) < count + 1:
        page = {"limit": 500, "offset": len(ids)}
        items = httpx.get(f"{url}/api/v1/datasets/{dataset_id}/items", params=page, timeout=30).json()
        if not items["items"]:
            break
        ids.update({Path(item["uri"]).name: item["id"] for item in items["items"]})
    httpx.post(
        f"{url}/api/v1/datasets/{dataset_id}/tags",
        json={"item_ids": list(ids.values()), "label_id": classes.json()["id"]},
        timeout=30,
    )
    return dataset_id, ids["big.png"]


def _settle(url: str, seconds: float = 90.0) -> None:
    """Wait until the page is quick again, so one attack's leftovers do not count for the next."""
    deadline = time.monotonic() + seconds
    while _probe_once(url) > TARGET_S and time.monotonic() < deadline:
        time.sleep(0.5)


def _line(name: str, times: list[float], baseline: list[float], outcome: str) -> None:
    worst = max(times)
    verdict = "OK" if worst < TARGET_S else "MISSED"
    print(
        f"{name:<12} page p50 {statistics.median(times) * 1000:>8.1f} ms  max {worst * 1000:>8.1f} ms  "
        f"(no attack: p50 {statistics.median(baseline) * 1000:.1f} ms, max {max(baseline) * 1000:.1f} ms)  "
        f"n={len(times):<4} target < {TARGET_S * 1000:.0f} ms {verdict}  | attack: {outcome}",
        flush=True,
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench abuse")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the big attacks' sizes")
    parser.add_argument("--probes", type=int, default=20, help="page requests for the baseline")
    parser.add_argument("--attack-seconds", type=float, default=20.0, help="bound on each attack")
    parser.add_argument("--megapixels", type=float, default=64.0)
    parser.add_argument("--items", type=int, default=5000, help="labeled items (the aliases attack)")
    parser.add_argument("--slow-connections", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="repeats of each quick attack, at most")
    parser.add_argument("--header-timeout", type=float, default=5.0, help="the server's header deadline")
    parser.add_argument("--attacks", default="", help="comma-separated subset, e.g. form,textplain")
    args = parser.parse_args(argv)
    with scratch_settings() as (settings, root), _served(settings, root, args.header_timeout) as url:
        dataset_id, big_item = _dataset(url, root, args.megapixels * min(1.0, args.scale * 4), args.items)
        baseline = _baseline(url, args.probes)
        attacks = {
            "form": form_attack(url, args.scale),
            "fragments": fragments_attack(url, args.scale),
            "aliases": aliases_attack(url, dataset_id),
            "bigimage": bigimage_attack(url, big_item),
            "slowheaders": slowheaders_attack(url, args.slow_connections),
            "textplain": textplain_attack(url, 200),
        }
        wanted = [a for a in args.attacks.split(",") if a] or list(attacks)
        for name, attack in ((n, attacks[n]) for n in wanted):
            rounds = 1 if name == "slowheaders" else args.rounds
            times, outcome = _under_attack(url, attack, args.attack_seconds, rounds)
            _line(name, times, baseline, outcome)
            _settle(url)
