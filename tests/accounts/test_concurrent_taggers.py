"""Many taggers on one dataset at once, through the real server: no update is lost.

Each tagger is a user with a token; all send their REST tag (and undo) requests at the same time
to the app served by uvicorn on 127.0.0.1. Afterwards the materialised labels equal the replayed
events, every accepted request is exactly one event under its own user, and nothing was refused.
Runs on SQLite and, with ``LABELWISE_TEST_DATABASE=postgres``, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
from sqlalchemy import func, select

from backend.accounts import service
from backend.datasets.service import create_dataset
from backend.labels import classes, history
from backend.storage.tables import TagEvent
from tests.factories import image_folder
from tests.live import live_app

TAGGERS, REQUESTS_EACH, ITEMS = 8, 15, 24


async def test_concurrent_taggers_lose_no_update(session, settings, folder):
    image_folder(folder, count=ITEMS)
    dataset, _ = await create_dataset(session, settings, "busy", [str(folder)], multi_label=True)
    dataset_id = dataset.id
    labels = [(await classes.create_class(session, dataset_id, name)).id for name in ("a", "b", "c")]
    from backend.datasets.items import list_items

    ids = [entry.item.id for entry in (await list_items(session, dataset_id, limit=500)).items]
    tokens = {}
    for n in range(TAGGERS):
        user = await service.add_user(session, f"tagger-{n}", "labeler")
        assert user.id is not None
        tokens[user.name] = (await service.create_token(session, user.id))[1]

    async def tagger(base: str, name: str, seed: int) -> list[int]:
        rng = random.Random(seed)
        statuses = []
        headers = {"Authorization": f"Bearer {tokens[name]}", "X-Labelwise-Tagger": "spoofed"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            for _ in range(REQUESTS_EACH):
                if rng.random() < 0.15:
                    response = await http.post(f"/api/v1/datasets/{dataset_id}/undo-last")
                else:
                    body = {
                        "item_ids": rng.sample(ids, rng.randint(1, 6)),
                        "label_id": rng.choice(labels),
                        "op": rng.choice(["set", "add", "add", "remove", "clear"]),
                    }
                    if body["op"] == "clear":
                        body.pop("label_id")
                    response = await http.post(f"/api/v1/datasets/{dataset_id}/tags", json=body)
                statuses.append(response.status_code)
                assert response.status_code < 500, response.text
        return statuses

    with live_app(settings, run_jobs=False) as base:
        results = await asyncio.gather(*(tagger(base, name, n) for n, name in enumerate(tokens)))

    accepted = {
        name: sum(1 for s in statuses if s == 201) for name, statuses in zip(tokens, results, strict=True)
    }
    refused = Counter(s for statuses in results for s in statuses if s != 201)
    # The only refusal allowed: an undo-last with nothing (left) to undo.
    assert set(refused) <= {404, 409}, refused
    assert sum(accepted.values()) >= TAGGERS * REQUESTS_EACH * 0.8

    session.expire_all()
    assert await history.current_labels(session, dataset_id) == await history.replayed_labels(
        session, dataset_id
    )
    per_tagger = dict(
        (
            await session.execute(
                select(TagEvent.tagger, func.count())
                .where(TagEvent.dataset_id == dataset_id)
                .group_by(TagEvent.tagger)
            )
        ).all()
    )
    assert per_tagger == {name: count for name, count in accepted.items() if count}
