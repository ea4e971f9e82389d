"""The History page offers an undo only where it would do something: a row whose labels were all
revoked or changed since says so (its Undo answered "nothing to undo in event 59...")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from tests.helpers.pages import csrf_headers, make_dataset
from tests.html import by_id, maybe_one, one, parse, text_of

API = "/api/v1"


async def _tag(client: AsyncTestClient, dataset_id: int, items: list[int], label: int) -> int:
    response = await client.post(
        f"{API}/datasets/{dataset_id}/tags", json={"item_ids": items, "label_id": label}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _row(page: Any, event_id: int) -> tuple[Any, str]:
    """(the row's button or None, the text of its last cell)."""
    row = one(page, f"//table[@id='events']//tr[@data-event='{event_id}']")
    return maybe_one(row, ".//button"), text_of(row.xpath("./td")[-1])


async def test_a_row_whose_labels_were_revoked_or_changed_since_says_so_instead_of_an_undo(
    client: AsyncTestClient, folder: Path
) -> None:
    dataset_id = await make_dataset(client, folder, count=6)
    items = (await client.get(f"{API}/datasets/{dataset_id}/items")).json()["items"]
    ids = [item["id"] for item in items]
    classes = f"{API}/datasets/{dataset_id}/classes"
    rings = int((await client.post(classes, json={"name": "rings"})).json()["id"])
    peaks = int((await client.post(classes, json={"name": "peaks"})).json()["id"])
    url = f"/datasets/{dataset_id}/history"
    headers = await csrf_headers(client, url)

    revoked = await _tag(client, dataset_id, ids[:2], rings)
    answer = await client.post(f"{url}/revoke", data={"revoke_kind": "manual"}, headers=headers)
    assert "Revoked the labels of 2 item(s)" in text_of(by_id(parse(answer.text), "history-notice"))
    revoke = int((await client.get(f"{API}/datasets/{dataset_id}/events")).json()["events"][0]["id"])
    changed = await _tag(client, dataset_id, ids[2:4], peaks)
    await _tag(client, dataset_id, ids[2:4], rings)  # someone relabeled both since
    back = await _tag(client, dataset_id, [ids[4]], rings)
    other = await _tag(client, dataset_id, [ids[4]], peaks)
    assert (await client.post(f"{API}/events/{other}/undo")).status_code == 201  # rings again: back's
    kept = await client.post(
        f"{API}/datasets/{dataset_id}/review", json={"item_id": ids[4], "action": "keep"}
    )
    assert kept.status_code == 201, kept.text

    page = parse((await client.get(url)).text)
    assert _row(page, revoked) == (None, f"nothing left to undo: revoked by #{revoke}")
    assert _row(page, changed) == (None, "nothing left to undo: its labels were changed since")
    assert _row(page, int(kept.json()["id"])) == (None, "nothing to undo: a keep changes no label")
    assert text_of(_row(page, back)[0]) == "Undo"  # changed and changed back: its undo still works
    assert text_of(_row(page, revoke)[0]) == "Undo revoke"

    # what the row says is what an undo answers
    for event_id in (revoked, changed):
        refused = await client.post(f"{url}/undo", data={"event_id": event_id}, headers=headers)
        assert f"nothing to undo in event {event_id}" in text_of(
            by_id(parse(refused.text), "history-problem")
        )
    undone = await client.post(f"{url}/undo", data={"event_id": back}, headers=headers)
    assert f"Undid event #{back}" in text_of(by_id(parse(undone.text), "history-notice"))
