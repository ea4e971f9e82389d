"""Scenes for revoke tests: labels tagged by a person through REST, batches a model made recorded as
the server's batch endpoints record them, and the labels read back."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from backend.labels.events import TagRequest, record_event
from backend.storage.database import Database
from tests.helpers.guided import API

ALICE = {"X-Labelwise-Tagger": "alice"}


async def tag_as_alice(client: AsyncTestClient, dataset_id: int, items: list[int], label: int) -> dict:
    body = {"item_ids": items, "label_id": label}
    response = await client.post(f"{API}/datasets/{dataset_id}/tags", json=body, headers=ALICE)
    assert response.status_code == 201, response.text
    return response.json()


async def model_batch(
    database: Database, dataset_id: int, items: list[int], label: int, kind: str, model_id: int
) -> dict:
    """A batch the model made: recorded as the server's batch endpoints do (clients may not
    name a model in an event, decision 0007), so the scene does not depend on ranking order."""
    request = TagRequest(
        dataset_id=dataset_id, tagger="alice", item_ids=items, label_id=label, kind=kind, model_id=model_id
    )
    async with database.session() as session:  # the test's own engine: asyncpg is bound to its loop
        event = await record_event(session, request)
        return {"id": event.id, "created_at": event.created_at.isoformat()}


async def labels_of(client: AsyncTestClient, dataset_id: int) -> dict[int, list[int]]:
    rows = (await client.get(f"{API}/datasets/{dataset_id}/labels")).json()
    return {row["item_id"]: row["label_ids"] for row in rows}
