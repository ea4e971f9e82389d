"""Browser helpers shared by the tests: the app served over HTTP, Chromium, and what the label page shows."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.settings import Settings
from tests.factories import image_folder

pytestmark = pytest.mark.browser


CHROMIUM = Path("/usr/bin/chromium")


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(job_settings: Settings, database: Any) -> Iterator[str]:
    """The app with its job runtime under uvicorn in a thread; its base URL."""
    import uvicorn

    from backend.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(job_settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="jobs-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


@pytest.fixture
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


API = "/api/v1"


async def api_dataset(
    page: Any, folder: Path, count: int, classes: list[tuple[str, str]], **more: Any
) -> dict:
    """Set up through the REST API (the pages are what is under test here)."""
    image_folder(folder, count=count, corrupt=more.pop("corrupt", 0))
    response = await page.request.post(
        f"{API}/datasets", data={"name": f"ds-{folder.name}", "sources": [str(folder)], **more}
    )
    assert response.status == 201, await response.text()
    dataset = (await response.json())["dataset"]
    dataset["classes"] = {}
    for name, hotkey in classes:
        made = await page.request.post(
            f"{API}/datasets/{dataset['id']}/classes", data={"name": name, "hotkey": hotkey}
        )
        assert made.status == 201, await made.text()
        dataset["classes"][name] = await made.json()
    return dataset


# Times, inside the page, from the keydown to the frame after the item's marks turned labeled.
LATENCY_PROBE = """(itemId) => {
  window.labelLatency = new Promise((resolve) => {
    let pressed = null;
    const onKey = () => { pressed = performance.now(); };
    document.addEventListener("keydown", onKey, { once: true, capture: true });
    new MutationObserver((_, observer) => {
      const marks = document.getElementById("marks-" + itemId);
      if (pressed !== null && marks && marks.classList.contains("labeled")) {
        observer.disconnect();
        requestAnimationFrame(() => resolve(performance.now() - pressed));
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
}"""


def tiles(page: Any) -> Any:
    return page.locator("#gallery .tile")


async def tile_id(page: Any, index: int) -> str:
    return await tiles(page).nth(index).get_attribute("data-id")


def labels_of(page: Any, item_id: str) -> Any:
    return page.locator(f"#marks-{item_id}")


# How many of the elements a selector finds are shown: an element counts when it is hit where it
# is drawn and its ancestors leave it at least half opaque (a caption shown only on hover is drawn
# at opacity 0, yet still hit; a button under a clipped image is not hit).
SHOWN = """(selector) => [...document.querySelectorAll(selector)].filter((b) => {
    const r = b.getBoundingClientRect();
    if (!r.height || !r.width) return false;
    const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    let opacity = 1;
    for (let e = b; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
    return (hit === b || b.contains(hit)) && opacity >= 0.5;
}).length"""
