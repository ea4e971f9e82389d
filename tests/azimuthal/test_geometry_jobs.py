"""Azimuthal features of a source with a PONI geometry and a mask: cells in q about the
calibration's beam centre, through the in-process worker."""

from __future__ import annotations

import numpy as np
import tifffile

from tests.detector.factories import CENTRE, gap_mask, ring_pattern, write_poni
from tests.helpers.azimuthal import job_output, run_job


async def test_a_source_with_a_poni_file_is_described_in_q_about_its_centre(jobs_client, folder):
    for index in range(4):
        frame = ring_pattern(q0=3.0 + 0.5 * index)
        frame[gap_mask() != 0] = 2**32 - 1  # a saturated gap, masked below
        tifffile.imwrite(folder / f"ring_{index}.tif", frame)
    made = await jobs_client.post(
        "/api/v1/datasets", json={"name": f"q-{folder.name}", "sources": [str(folder)]}
    )
    assert made.status_code == 201, made.text
    dataset_id = made.json()["dataset"]["id"]
    source = (await jobs_client.get(f"/api/v1/datasets/{dataset_id}/sources")).json()[0]
    calib = folder.parent / f"calib_{folder.name}"
    calib.mkdir()
    np.save(calib / "mask.npy", gap_mask())
    response = await jobs_client.patch(
        f"/api/v1/datasets/{dataset_id}/sources/{source['id']}",
        json={"mask_path": str(calib / "mask.npy"), "poni_path": str(write_poni(calib / "det.poni"))},
    )
    assert response.status_code == 200, response.text
    train = await run_job(jobs_client, {"kind": "train", "dataset_id": dataset_id, "algorithm": "azimuthal"})
    infer = await run_job(jobs_client, {"kind": "infer", "model_id": train["model_id"]})
    centres = await job_output(jobs_client, infer["id"], "beam_centres.npy")
    vectors = await job_output(jobs_client, infer["id"], "vectors.npy")
    assert np.allclose(centres, np.tile(CENTRE, (4, 1)), atol=1e-6), centres
    assert vectors.shape[0] == 4 and np.isfinite(vectors).all()
    # rings at four radii are four different frames: no two descriptors alike
    distances = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    assert distances[~np.eye(4, dtype=bool)].min() > 0.1
