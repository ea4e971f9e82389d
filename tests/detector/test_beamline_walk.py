"""Issue 20's walk end to end: a folder of EDF and CBF frames as a beamline writes them, with a
mask and a PONI file, added, shown readably, filtered by run, labeled by run, with I(q) beside
each frame. Every other detector test covers one part; this one joins them, as a user meets them.
"""

from __future__ import annotations

import io

import numpy as np
from fabio.cbfimage import CbfImage
from fabio.edfimage import EdfImage
from PIL import Image

from tests.detector.factories import RING_Q, gap_mask, q_peak, ring_pattern, write_poni
from tests.helpers.rest import API

PILATUS = "# Detector: PILATUS 300K\r\n# 2024-03-05T14:07:11.250\r\n# Exposure_time 0.0950000 s\r\n"


def _frame(gap_value: int) -> np.ndarray:
    frame = ring_pattern().astype(np.int32)
    frame[gap_mask() != 0] = gap_value  # module gaps: what the mask must hide
    return frame


async def test_a_beamline_folder_is_added_masked_shown_filtered_by_run_and_labeled(client, folder):
    frames = [_frame(-1), _frame(-1)]
    edf = EdfImage(data=frames[0], header={"scan_no": "7", "SampleName": "AgBeh", "ExposureTime": "0.5"})
    edf.append_frame(data=frames[1], header={"scan_no": "7", "SampleName": "AgBeh", "ExposureTime": "0.5"})
    edf.write(str(folder / "scan7.edf"))
    later = EdfImage(data=_frame(-1), header={"scan_no": "8", "SampleName": "AgBeh", "ExposureTime": "1.0"})
    later.write(str(folder / "scan8.edf"))
    CbfImage(
        data=_frame(-2),
        header={"_array_data.header_convention": "PILATUS_1.2", "_array_data.header_contents": PILATUS},
    ).write(str(folder / "pilatus_0001.cbf"))
    calib = folder.parent / f"calib_{folder.name}"
    calib.mkdir()
    np.save(calib / "mask.npy", gap_mask())
    write_poni(calib / "det.poni")

    created = await client.post(f"{API}/datasets", json={"name": "beamline", "sources": [str(folder)]})
    assert created.status_code == 201, created.text
    ds = created.json()["dataset"]["id"]
    source = (await client.get(f"{API}/datasets/{ds}/sources")).json()[0]
    patched = await client.patch(
        f"{API}/datasets/{ds}/sources/{source['id']}",
        json={
            "mask_path": str(calib / "mask.npy"),
            "mask_rules": ["negative"],
            "poni_path": str(calib / "det.poni"),
        },
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["problems"] == []
    items = (await client.get(f"{API}/datasets/{ds}/items", params={"limit": 50})).json()["items"]
    assert len(items) == 4 and all(i["status"] == "ok" for i in items), items

    # shown readably: the gap is masked, so the ring is what the display stretches over
    first = next(i for i in items if i["uri"] == "scan7.edf" and i["frame"] == 0)
    png = await client.get(f"{API}/items/{first['id']}/image", params={"size": 128})
    assert png.status_code == 200
    shown = np.asarray(Image.open(io.BytesIO(png.content)).convert("L"), dtype=float)
    assert shown.std() > 20, "a masked detector frame must not render as one flat colour"

    # I(q) beside the frame, peaking at the ring
    page = await client.get(f"/items/{first['id']}")
    assert page.status_code == 200
    peak = q_peak(page.text)
    assert abs(peak - RING_Q) / RING_Q < 0.01

    # filtered by run, then the run labeled except one deselected frame, as one event
    run7 = (await client.get(f"{API}/datasets/{ds}/items", params={"run": "7"})).json()["items"]
    assert sorted((i["uri"], i["frame"]) for i in run7) == [("scan7.edf", 0), ("scan7.edf", 1)]
    ring = (await client.post(f"{API}/datasets/{ds}/classes", json={"name": "ring"})).json()
    labeled = await client.post(
        f"{API}/datasets/{ds}/items/label-matching",
        json={"run": "7", "label_id": ring["id"], "except_item_ids": [run7[1]["id"]]},
    )
    assert labeled.status_code == 201, labeled.text
    after = {
        i["id"]: i["label_ids"] for i in (await client.get(f"{API}/datasets/{ds}/items")).json()["items"]
    }
    assert after[run7[0]["id"]] == [ring["id"]] and after[run7[1]["id"]] == []
    assert sum(1 for v in after.values() if v) == 1
