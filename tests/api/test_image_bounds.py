"""What a viewer can make the server spend on images is bounded (decision 0004): memory per view,
disk per cache, and a full disk costs the cache, never the image."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.images.thumbnails import ThumbnailCache, is_cacheable, render_png
from backend.images.transforms import DisplayTransform
from backend.sources.folder import FolderSource
from tests.factories import write_png
from tests.helpers.rest import API, create_dataset, item_ids

SIDE = 2500  # a 6-megapixel RGBA PNG: 25 MB of pixels, a few kB of file


def _rgba(path: Path, side: int = SIDE) -> Path:
    ramp = (np.arange(side) % 256).astype(np.uint8)
    pixels = np.empty((side, side, 4), dtype=np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 3] = ramp[None, :], ramp[:, None], 200
    pixels[..., 2] = pixels[..., 0] + pixels[..., 1]
    Image.fromarray(pixels, "RGBA").save(path, compress_level=1)
    return path


def _png_size(content: bytes) -> tuple[int, int]:
    return Image.open(BytesIO(content)).size


def test_a_full_view_of_a_big_rgba_image_costs_one_float_copy_not_four(tmp_path):
    """Peak memory of a full-resolution render, measured in a fresh process (PIL's decoder memory
    is invisible to tracemalloc). It was 79 bytes a pixel (float copies of four channels, float64
    arithmetic): a 64-megapixel image cost 5 GB. Now 20: the decoded pixels, one float32 RGB
    copy worked in place, the 8-bit result."""
    _rgba(tmp_path / "big.png")
    write_png(tmp_path / "small.png")
    script = textwrap.dedent(
        """
        import resource, sys
        from pathlib import Path
        from backend.images.thumbnails import ThumbnailCache
        from backend.images.transforms import DisplayTransform
        from backend.sources.folder import FolderSource
        root, side = Path(sys.argv[1]), int(sys.argv[2])
        source, cache = FolderSource(root, [root], 10**9), ThumbnailCache(root / "cache")
        cache.render(source, 1, "small.png", 0, DisplayTransform(), None, (32, 32))  # imports, warm-up
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cache.render(source, 2, "big.png", 0, DisplayTransform(log=True), None, (side, side))
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024 / side / side)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(SIDE)], capture_output=True, text=True, check=True
    )
    bytes_per_pixel = float(done.stdout.strip())
    assert bytes_per_pixel < 32, bytes_per_pixel


def test_a_full_view_above_max_view_pixels_is_read_strided(tmp_path):
    _rgba(tmp_path / "big.png", side=2000)
    source = FolderSource(tmp_path, [tmp_path], 10**9)
    cache = ThumbnailCache(tmp_path / "cache", max_view_pixels=1_000_000)
    png = cache.render(source, 1, "big.png", 0, DisplayTransform(), None, (2000, 2000))
    assert _png_size(png) == (1000, 1000)


def test_a_view_is_never_larger_than_its_source():
    png = render_png(np.random.default_rng(0).random((30, 20)), DisplayTransform(), 4096)
    assert _png_size(png) == (20, 30)


async def test_size_4096_of_a_small_image_is_served_at_its_own_size(client_with, tmp_path, folder):
    async with client_with(data_dir=tmp_path / "data") as client:
        dataset = (await create_dataset(client, folder, count=1))["dataset"]
        item = (await item_ids(client, dataset["id"]))[0]
        response = await client.get(f"{API}/items/{item}/image", params={"size": 4096})
        assert response.status_code == 200 and _png_size(response.content) == (32, 32)
        assert not list((tmp_path / "data").rglob("*_4096.png"))  # and 4096 is never written


def test_only_thumbnail_sizes_and_the_pages_percentile_steps_are_cached(tmp_path):
    assert is_cacheable(DisplayTransform(p_low=0.5, p_high=99.9), 128)
    assert is_cacheable(DisplayTransform(), None)
    assert not is_cacheable(DisplayTransform(p_low=1.2345), 128)
    assert is_cacheable(DisplayTransform(), 24) and not is_cacheable(DisplayTransform(), 2048)
    write_png(tmp_path / "root" / "a.png", size=(64, 64))
    source = FolderSource(tmp_path / "root", [tmp_path / "root"], 10**6)
    cache = ThumbnailCache(tmp_path / "cache")
    odd = DisplayTransform(p_low=1.2345, p_high=98.7654)
    png = cache.render(source, 1, "a.png", 0, odd, 32, (64, 64))
    assert png.startswith(b"\x89PNG") and cache.get(1, odd, 32) is None
    assert not list((tmp_path / "cache").rglob("*.png"))


def test_the_cache_evicts_the_least_recently_used_beyond_its_bounds(tmp_path):
    root = tmp_path / "root"
    for i in range(12):
        write_png(root / f"{i}.png", seed=i, size=(64, 64))
    source = FolderSource(root, [root], 10**6)
    cache = ThumbnailCache(tmp_path / "cache", max_entries=10)
    plain = DisplayTransform()
    for i in range(9):
        cache.render(source, i, f"{i}.png", 0, plain, 32, (64, 64))
    cache.sweep()  # counts what is there
    for i in (1, 2):  # used again: the least recently used are now 0, 3, 4, ...
        cache.path(i, plain, 32).touch()  # atime and mtime now (get() sets atime at most once a minute)
    for i in range(9, 12):
        cache.render(source, i, f"{i}.png", 0, plain, 32, (64, 64))
    kept = {int(p.name.split("_")[0]) for p in (tmp_path / "cache").rglob("*.png")}
    assert len(kept) <= 10 and {1, 2, 9, 10, 11} <= kept and 0 not in kept
    cache = ThumbnailCache(tmp_path / "cache", max_bytes=1)
    cache.render(source, 0, "0.png", 0, plain, 32, (64, 64))
    assert len(list((tmp_path / "cache").rglob("*.png"))) == 0


def test_a_full_disk_serves_the_image_uncached(tmp_path, monkeypatch, caplog):
    """ENOSPC cannot be made here without a small file system; the OS call is made to fail."""
    write_png(tmp_path / "root" / "a.png", size=(64, 64))
    source = FolderSource(tmp_path / "root", [tmp_path / "root"], 10**6)
    cache = ThumbnailCache(tmp_path / "cache")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("tempfile.mkstemp", no_space)
    png = cache.render(source, 1, "a.png", 0, DisplayTransform(), 32, (64, 64))
    assert png.startswith(b"\x89PNG") and "No space left" in caplog.text
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]  # no temporary file left


@pytest.fixture
def blocked_cache(tmp_path):
    """Settings whose cache directory cannot be written: its ``thumbs`` folder is a file."""
    cache = tmp_path / "data" / "cache"
    cache.mkdir(parents=True)
    (cache / "thumbs").write_text("not a folder")
    return {"data_dir": tmp_path / "data"}


async def test_an_unwritable_cache_still_serves_images_through_every_door(client_with, blocked_cache, folder):
    async with client_with(**blocked_cache) as client:
        dataset = (await create_dataset(client, folder, count=1))["dataset"]
        item = (await item_ids(client, dataset["id"]))[0]
        for url, params in (
            (f"{API}/items/{item}/image", {"size": 16}),
            (f"{API}/items/{item}/image", {}),
            (f"/thumbs/{item}", {"size": 64}),
            (f"/thumbs/{item}", {"size": 0}),
        ):
            response = await client.get(url, params=params)
            assert response.status_code == 200 and response.content.startswith(b"\x89PNG"), (url, params)
