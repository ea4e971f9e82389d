"""Detector frames in Chromium: the demo's frames readable at 96 px with the default preset.

The screenshot goes to docs/detector-display.png when LABELWISE_UPDATE_SCREENSHOT=1.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from playwright.async_api import expect

from tests.helpers.browser import tiles

DOCS = Path(__file__).resolve().parents[2] / "docs"


async def test_demo_frames_are_readable_at_96_px_with_the_default_preset(
    page: Any, data_root: Path, tmp_path: Path
) -> None:
    from backend.demo import generate_demo

    images = data_root / f"detector-{tmp_path.name}" / "images"
    generate_demo(images, 24, size=256, seed=5)
    response = await page.request.post(
        "/api/v1/datasets", data={"name": f"detector-{tmp_path.name}", "sources": [str(images)]}
    )
    assert response.status == 201, await response.text()
    dataset = (await response.json())["dataset"]
    assert dataset["display"]["scale"] == "log" and dataset["display"]["colormap"] == "inferno"
    await page.set_viewport_size({"width": 1280, "height": 760})
    await page.goto(f"/datasets/{dataset['id']}/label?per_page=24&size=96")  # no display in the URL
    await expect(tiles(page)).to_have_count(24)
    await expect(page.locator("#scale-select")).to_have_value("log")
    await expect(page.locator("#cmap-select")).to_have_value("inferno")
    await page.wait_for_function(  # a function: Playwright polls expressions with eval() (CSP)
        "() => [...document.querySelectorAll('#gallery img')].every((i) => i.complete && i.naturalWidth)"
    )
    sources = await page.locator("#gallery img").evaluate_all("(all) => all.map((i) => i.src)")
    assert all("scale=log" in s and "cmap=inferno" in s and "size=96" in s for s in sources)
    for src in sources[:6]:  # readable: neither washed out (white) nor flat, the pattern spread
        shown = await page.request.get(src)
        rgb = np.asarray(Image.open(io.BytesIO(await shown.body())).convert("L"), float)
        assert max(rgb.shape) == 96
        assert (rgb > 240).mean() < 0.05 and rgb.std() > 25 and np.median(rgb) < 128, src
    target = (
        DOCS / "detector-display.png" if os.environ.get("LABELWISE_UPDATE_SCREENSHOT") else tmp_path / "d.png"
    )
    await page.screenshot(path=str(target), full_page=False)
    assert target.stat().st_size > 10_000
    # the item view starts from the same preset
    await tiles(page).nth(0).dblclick()
    await page.wait_for_url("**/items/**")
    source = await page.locator("#viewer-image").get_attribute("src")
    assert "scale=log" in source and "cmap=inferno" in source
