"""Decoding and display transforms, and the disk cache of thumbnails."""

from __future__ import annotations

import numpy as np
import pytest

from backend.errors import TooLarge, Unreadable
from backend.images import decode, transforms
from backend.images.thumbnails import ThumbnailCache, render_png
from backend.images.transforms import DisplayTransform
from backend.sources.folder import FolderSource
from tests.factories import write_png, write_tiff


def test_min_max_scales_to_unit_range_and_handles_constant_images():
    image = np.array([[2.0, 4.0], [6.0, 10.0]])
    assert transforms.min_max(image).tolist() == [[0.0, 0.25], [0.5, 1.0]]
    assert not transforms.min_max(np.full((3, 3), 7.0)).any()


def test_log_is_taken_of_the_min_max_scaled_image():
    image = np.array([[0.0, 1.0], [3.0, 4.0]])
    expected = np.log(np.array([[0.0, 0.25], [0.75, 1.0]]) + 1e-12)
    np.testing.assert_allclose(transforms.log_scale(image), expected, rtol=1e-6, atol=1e-9)


def test_percentile_normalisation_clips_outliers():
    image = np.arange(1000, dtype=np.float32).reshape(40, 25)
    image[0, 0] = 1e6
    out = transforms.percentile_normalize(image, 1, 99)
    assert out.min() == 0.0 and out.max() == 1.0
    assert 0.4 < out[20, 0] < 0.6  # the middle stays in the middle despite the outlier


def test_bad_percentile_bounds_are_refused():
    with pytest.raises(Exception, match="percentile"):
        DisplayTransform(p_low=50, p_high=10)


def test_resize_and_block_reduce_keep_aspect_and_mean():
    image = np.ones((64, 32), dtype=np.float32)
    assert transforms.block_reduce(image, 4).shape == (16, 8)
    assert transforms.fit_size(64, 32, 16) == (16, 8)
    assert transforms.resize(image, 16, 8).shape == (16, 8)


def test_oversize_images_are_refused_before_decoding(tmp_path):
    path = write_tiff(tmp_path / "big.tif", size=64)
    with pytest.raises(TooLarge):
        decode.read_file(path, max_pixels=1000)
    assert decode.read_file(path, max_pixels=64 * 64).shape == (64, 64)


def test_multipage_tiff_frames_decode_separately(tmp_path):
    path = write_tiff(tmp_path / "s.tif", frames=3, seed=1)
    frames = [decode.read_file(path, f, max_pixels=10**6) for f in range(3)]
    assert all(f.dtype == np.float32 for f in frames)
    assert not np.array_equal(frames[0], frames[1])


def test_truncated_png_is_unreadable(tmp_path):
    path = write_png(tmp_path / "t.png", size=(64, 64))
    path.write_bytes(path.read_bytes()[:80])
    with pytest.raises(Unreadable):
        decode.read_file(path, max_pixels=10**6)


def test_thumbnail_bytes_depend_on_the_transform_and_are_cached(tmp_path):
    root = tmp_path / "root"
    write_tiff(root / "x.tif", size=128, dtype="uint16")
    source = FolderSource(root, [root], 10**6)
    cache = ThumbnailCache(tmp_path / "cache")
    plain = cache.render(source, 1, "x.tif", 0, DisplayTransform(), 32, (128, 128))
    logged = cache.render(source, 1, "x.tif", 0, DisplayTransform(log=True), 32, (128, 128))
    assert plain != logged and plain[:8] == b"\x89PNG\r\n\x1a\n"
    (root / "x.tif").unlink()  # served from the disk cache now
    assert cache.render(source, 1, "x.tif", 0, DisplayTransform(), 32, (128, 128)) == plain


def test_render_png_fits_the_longer_side(tmp_path):
    from io import BytesIO

    from PIL import Image

    png = render_png(np.random.default_rng(0).random((100, 50)), DisplayTransform(), 40)
    assert Image.open(BytesIO(png)).size == (20, 40)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "I;16"])
def test_a_strided_read_picks_every_stride_th_pixel_whatever_the_mode(tmp_path, mode):
    from PIL import Image

    rng = np.random.default_rng(0)
    shape = {"L": (101, 77), "RGB": (101, 77, 3), "RGBA": (64, 90, 4), "I;16": (50, 61)}[mode]
    pixels = rng.integers(0, 250, shape).astype(np.uint16 if mode == "I;16" else np.uint8)
    image = Image.fromarray(pixels)
    assert image.mode == mode
    image.save(tmp_path / "x.png")
    expected = pixels[..., :3] if mode == "RGBA" else pixels
    for stride in (1, 2, 3, 7):
        read = decode.read_file(tmp_path / "x.png", max_pixels=10**6, stride=stride)
        np.testing.assert_array_equal(read, expected[::stride, ::stride].astype(np.float32))


def test_the_frame_cache_is_bounded_by_bytes_not_by_count():
    """Three 1 MB frames fill a 3 MB cache: a fourth drops the least recently used; a frame above
    the whole bound is handed back, not kept; a thousand 1 kB frames are all kept."""
    from backend.images.frame_cache import FrameCache

    loads: list[str] = []

    def frame(name: str, nbytes: int):  # type: ignore[no-untyped-def]
        def load() -> np.ndarray:
            loads.append(name)
            return np.zeros(nbytes, np.uint8)

        return load

    cache: FrameCache[np.ndarray] = FrameCache(3 << 20)
    for name in ("a", "b", "c", "a"):
        cache.get(name, frame(name, 1 << 20), lambda a: a.nbytes)
    assert loads == ["a", "b", "c"] and cache.bytes == 3 << 20
    cache.get("d", frame("d", 1 << 20), lambda a: a.nbytes)  # b is the least recently used now
    cache.get("a", frame("a", 1 << 20), lambda a: a.nbytes)
    cache.get("b", frame("b", 1 << 20), lambda a: a.nbytes)
    assert loads == ["a", "b", "c", "d", "b"] and cache.bytes == 3 << 20 and len(cache) == 3
    huge = cache.get("huge", frame("huge", 4 << 20), lambda a: a.nbytes)
    assert huge.nbytes == 4 << 20 and len(cache) == 3 and cache.bytes == 3 << 20
    cache.clear()
    for i in range(1000):
        cache.get(i, frame(str(i), 1024), lambda a: a.nbytes)
    assert len(cache) == 1000 and cache.bytes == 1000 * 1024
