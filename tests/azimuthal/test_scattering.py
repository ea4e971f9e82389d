"""The azimuthal-integration descriptor (workers/scattering.py) on frames with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from backend.demo import DEMO_CLASSES, render_image
from backend.demo import beam_centre as demo_centre
from workers.scattering import Geometry, beam_centre, descriptor

CLASSES = [name for name, _, _ in DEMO_CLASSES]


def ring_frame(
    centre: tuple[float, float], size: int = 128, seed: int = 0, ring: float = 20.0, inner_ring: float = 0.0
) -> np.ndarray:
    """A powder frame: power-law background and one ring around ``centre`` (and, with
    ``inner_ring``, a second one close to the stop), a beam stop with its arm, a module gap,
    Poisson counts."""
    rng = np.random.default_rng(seed)
    y, x = np.ogrid[:size, :size]
    r = np.hypot(y - centre[0], x - centre[1])
    expected = 80 / (1 + (r / 6) ** 2) + 2 + ring * np.exp(-0.5 * ((r - 35) / 1.5) ** 2)
    expected += inner_ring * np.exp(-0.5 * ((r - 15) / 1.2) ** 2)
    shadow = (r < 5) | ((np.abs(x - centre[1]) < 2) & (y > centre[0]))
    expected = np.where(shadow, expected * 0.02, expected)
    counts = rng.poisson(expected)
    counts[40:43, :] = 0
    return counts.astype(np.uint16)


@pytest.mark.parametrize("centre", [(64.0, 64.0), (70.3, 58.6), (55.5, 71.2)])
def test_the_beam_centre_is_found_to_a_pixel_despite_the_beam_stop_arm_and_gaps(centre):
    found = beam_centre(ring_frame(centre))
    assert abs(found[0] - centre[0]) < 1.0 and abs(found[1] - centre[1]) < 1.0, found


def test_a_ring_is_measured_the_same_wherever_the_beam_hits():
    geometry = Geometry()
    centred, _ = descriptor(ring_frame((64.0, 64.0)), geometry)
    shifted, _ = descriptor(ring_frame((70.3, 58.6), seed=1), geometry)
    empty, _ = descriptor(ring_frame((64.0, 64.0), seed=2, ring=0.0), geometry)
    assert centred.shape == (geometry.length,) and centred.dtype == np.float32
    # the strongest isotropic excess, in noise units (log scale): the ring
    assert centred[0] > np.log1p(10) and abs(centred[0] - shifted[0]) < 0.1 * centred[0]
    assert empty[0] < np.log1p(5)


def test_rotating_a_frame_hardly_changes_its_descriptor():
    frames = {name: render_image(7 * i + 1, name, size=128) for i, name in enumerate(CLASSES)}
    for name, frame in frames.items():
        own, _ = descriptor(frame)
        turned, _ = descriptor(np.rot90(frame))
        others = [np.linalg.norm(own - descriptor(f)[0]) for n, f in frames.items() if n != name]
        assert np.linalg.norm(own - turned) < min(others), name


def test_the_demo_classes_are_neighbours_of_their_own_kind():
    """Leave-one-out nearest neighbour over 72 demo frames (12 per class): chance is 1/6."""
    labels = [CLASSES[i % len(CLASSES)] for i in range(72)]
    vectors = np.stack([descriptor(render_image(i, labels[i], size=128, seed=3))[0] for i in range(72)])
    scaled = (vectors - vectors.mean(0)) / np.maximum(vectors.std(0), 1e-3)
    distances = np.linalg.norm(scaled[:, None] - scaled[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(axis=1)
    accuracy = np.mean([labels[i] == labels[j] for i, j in enumerate(nearest)])
    assert accuracy >= 0.7, accuracy


def test_a_hot_pixel_is_not_a_bragg_spot():
    frame = render_image(0, "empty", size=128)
    hot = frame.copy()
    hot[20, 30] = hot[90, 100] = hot[100, 20] = 4000
    clean, _ = descriptor(frame)
    spoiled, _ = descriptor(hot)
    spots = slice(27, 29)  # the two pixel-spot counts
    assert np.array_equal(clean[spots], spoiled[spots])
    peaks, _ = descriptor(render_image(3, "peaks", size=128))
    assert peaks[spots].max() > clean[spots].max()


def test_a_given_centre_is_used_as_it_is():
    _, used = descriptor(ring_frame((60.0, 66.0)), centre=(60.0, 66.0))
    assert used == (60.0, 66.0)


def test_blank_damaged_and_colour_frames_give_finite_descriptors():
    geometry = Geometry()
    blank, _ = descriptor(np.zeros((64, 64), np.uint16), geometry)
    assert np.array_equal(blank, np.zeros(geometry.length, np.float32))
    damaged = ring_frame((64.0, 64.0)).astype(np.float64)
    damaged[10:20, 10:20] = np.nan
    damaged[30, :] = np.inf
    assert np.isfinite(descriptor(damaged, geometry)[0]).all()
    colour = np.repeat(ring_frame((64.0, 64.0))[..., None], 3, axis=-1)
    assert np.allclose(descriptor(colour, geometry)[0], descriptor(ring_frame((64.0, 64.0)), geometry)[0])


def test_frames_and_geometries_that_cannot_be_described_are_refused_clearly():
    with pytest.raises(ValueError, match="too small"):
        descriptor(np.ones((8, 8)))
    with pytest.raises(ValueError, match="2-D detector frame"):
        descriptor(np.ones(100))
    with pytest.raises(ValueError, match="angular_bins must be even"):
        Geometry(angular_bins=35)
    with pytest.raises(ValueError, match="radial_bins"):
        Geometry(radial_bins=4)


def test_the_centre_of_diffuse_scattering_alone_is_found_to_a_fraction_of_a_pixel():
    """Empty demo frames: only the diffuse core, mostly under the beam stop, says where the beam
    is. The self-convolution's broad peak alone is typically 1-4 px off there."""
    errors = [
        np.hypot(*np.subtract(beam_centre(render_image(i, "empty")), demo_centre(i))) for i in range(24)
    ]
    assert np.median(errors) < 0.5 and max(errors) < 2.0, np.round(errors, 2)


def test_the_edge_of_the_beam_stop_is_not_taken_for_a_ring():
    """Just outside the stop a radial bin is half in its shadow: the profile climbs there before it
    falls. The background must start past that climb, or every empty frame shows a 'ring'."""
    strongest = [np.expm1(descriptor(render_image(i, "empty"))[0][0]) for i in range(24)]
    assert max(strongest) < 8, np.round(strongest, 1)


def test_a_ring_close_to_the_beam_stop_is_seen():
    """A ring inside the inner third of the radii, brighter than the diffuse core around it, is a
    ring, not the climb out of the stop's shadow."""
    frame = ring_frame((64.0, 64.0), ring=0.0)
    close = ring_frame((64.0, 64.0), ring=0.0, inner_ring=60.0)
    assert np.expm1(descriptor(close)[0][0]) > 10 * max(1.0, np.expm1(descriptor(frame)[0][0]))
