"""q-space from a PONI file written by pyFAI: the ring of a generated pattern is found at its q."""

from __future__ import annotations

import numpy as np
import pytest

from backend.errors import Invalid, Unreadable
from backend.images import geometry
from backend.sources.detector import DetectorSetup
from tests.detector.factories import CENTRE, RING_Q, SHAPE, gap_mask, ring_pattern, write_poni
from workers.scattering import Geometry, descriptor


def _peak(found: geometry.Profiles) -> float:
    return float(found.q[np.nanargmax(found.intensity_q)])


def test_i_of_q_peaks_at_the_ring_q_within_one_percent(tmp_path):
    integrator = geometry.load_poni(write_poni(tmp_path / "det.poni"))
    found = geometry.profiles(ring_pattern().astype(np.float32), None, integrator)
    assert abs(_peak(found) - RING_Q) / RING_Q < 0.01
    assert found.chi.min() >= -180 and found.chi.max() <= 180 and len(found.chi) == 360
    # an isotropic ring: I(chi) flat where the ring is whole, within the noise of the bins
    ring = np.isfinite(found.intensity_chi)
    assert ring.sum() > 300


def test_masked_pixels_are_left_out_of_i_of_q(tmp_path):
    integrator = geometry.load_poni(write_poni(tmp_path / "det.poni"))
    frame = ring_pattern().astype(np.float32)
    mask = gap_mask() != 0
    frame[mask] = 4294967295.0  # a saturated gap: would swamp I(q) if it counted
    found = geometry.profiles(frame, mask, integrator)
    assert abs(_peak(found) - RING_Q) / RING_Q < 0.01
    assert np.nanmax(found.intensity_q) < 3000


def test_a_strided_read_keeps_q(tmp_path):
    setup = DetectorSetup(poni_path=str(write_poni(tmp_path / "det.poni")))
    frame = ring_pattern().astype(np.float32)[::2, ::2]
    integrator = setup.integrator(SHAPE, frame.shape)
    assert abs(_peak(geometry.profiles(frame, None, integrator)) - RING_Q) / RING_Q < 0.01


def test_a_poni_for_another_detector_size_is_refused(tmp_path):
    integrator = geometry.load_poni(write_poni(tmp_path / "det.poni", shape=(256, 256)))
    with pytest.raises(Invalid, match=r"256x256 pixel detector; the frames are 160x128"):
        geometry.check_fits(integrator, *SHAPE, "det.poni")
    # where it is used, it is left out rather than failing the frame
    setup = DetectorSetup(poni_path=str(tmp_path / "det.poni"))
    assert setup.integrator(SHAPE, SHAPE) is None


def test_a_broken_poni_file_says_so(tmp_path):
    broken = tmp_path / "broken.poni"
    broken.write_text("poni_version: 2\nDetector: NoSuchDetector\nDistance: x\n")
    with pytest.raises(Unreadable, match=r"broken\.poni"):
        geometry.load_poni(broken)


def test_descriptors_in_q_use_the_calibrated_centre(tmp_path):
    integrator = geometry.load_poni(write_poni(tmp_path / "det.poni"))
    frame = ring_pattern(q0=4.0).astype(np.float64)  # about 45 px out: inside the largest circle
    shape = Geometry(radial_bins=24, angular_bins=36)

    def polar(image, valid, geometry_):  # type: ignore[no-untyped-def]
        return geometry.polar_cells_q(image, valid, integrator, geometry_.radial_bins, geometry_.angular_bins)

    vector, centre = descriptor(frame, shape, mask=gap_mask() != 0, polar=polar)
    assert np.allclose(centre, CENTRE, atol=0.01)
    assert vector.shape == (shape.length,) and np.isfinite(vector).all()
    plain, _ = descriptor(frame, shape, mask=gap_mask() != 0)
    assert vector[0] > 2 and plain[0] > 2  # a strong ring either way (squashed z of the top ring)


def test_i_of_chi_is_taken_at_the_ring_and_shows_its_arcs(tmp_path):
    """An arc (the ring on one side only) is a step in I(chi) at the ring's q."""
    integrator = geometry.load_poni(write_poni(tmp_path / "det.poni"))
    frame = ring_pattern(q0=4.0).astype(np.float32)
    chi = np.degrees(integrator.chiArray(SHAPE))
    frame[(chi < 0) & (frame > 100)] = 20.0  # keep the ring where chi >= 0 only
    found = geometry.profiles(frame, None, integrator)
    low, high = found.chi_band
    assert low < 4.0 < high
    positive = np.nanmean(found.intensity_chi[found.chi > 10])
    negative = np.nanmean(found.intensity_chi[found.chi < -10])
    assert positive > 5 * negative
