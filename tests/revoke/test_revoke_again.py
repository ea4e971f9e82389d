"""Labels a revoke took back and an undo put back are still the model's: a second revoke takes them
again, the History page and the model page count them, and work done after the undo stays. The same
holds for a batch undone and redone, and for any chain of undos of a revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from backend.errors import Conflict
from backend.labels import history, provenance
from backend.labels.events import TagRequest, record_event, undo_event
from backend.labels.revoke import labels_still_models, revoke_kind, revoke_model
from backend.storage.database import Database
from tests.helpers.graphql import gql
from tests.helpers.guided import API, add_class, item_ids, pca_model
from tests.helpers.pages import csrf_headers
from tests.helpers.revoke import ALICE, labels_of, model_batch, tag_as_alice
from tests.html import all_of, by_id, maybe_one, parse, text_of


async def _scene(server: AsyncTestClient, database: Database, dataset_id: int) -> dict[str, Any]:
    """Alice labels 0-2 A by hand; model M labels 0-7 B (probability) and 8-11 B (similarity)."""
    model = await pca_model(server, dataset_id)
    a, b = await add_class(server, dataset_id, "A"), await add_class(server, dataset_id, "B")
    ids = await item_ids(server, dataset_id)
    await tag_as_alice(server, dataset_id, ids[:3], a)
    await model_batch(database, dataset_id, ids[:8], b, "probability", model)
    await model_batch(database, dataset_id, ids[8:12], b, "similarity", model)
    return {"model": model, "a": a, "b": b, "ids": ids}


async def _left(database: Database, dataset_id: int) -> list[tuple[int, int, int]]:
    async with database.session() as session:
        return [
            (m.model_id, m.items, m.events) for m in await labels_still_models(session, dataset_id=dataset_id)
        ]


async def _undo(database: Database, event_id: int) -> int:
    async with database.session() as session:
        return int((await undo_event(session, event_id, "carol")).id)  # type: ignore[arg-type]


async def _revoke(database: Database, dataset_id: int, model: int) -> Any:
    async with database.session() as session:
        return await revoke_model(session, dataset_id, model, tagger="carol")


async def _replay_is_current(database: Database, dataset_id: int) -> None:
    async with database.session() as session:
        replayed = await history.replayed_labels(session, dataset_id)
        assert replayed == await history.current_labels(session, dataset_id)


async def test_a_revoke_undone_can_be_revoked_again_and_leaves_work_done_since(server, dataset, database):
    s = await _scene(server, database, dataset.id)
    ids, a, b, model = s["ids"], s["a"], s["b"], s["model"]
    first = await _revoke(database, dataset.id, model)
    assert (first.revoked, first.skipped, first.event_count) == (12, 0, 2)
    assert await _left(database, dataset.id) == []

    await _undo(database, int(first.event.id))  # "Undo revoke": the model's labels are back
    labels = await labels_of(server, dataset.id)
    assert all(labels[i] == [b] for i in ids[:12])
    undone_at = datetime.now(UTC)
    assert await _left(database, dataset.id) == [(model, 12, 2)]  # still the model's

    bob = await server.post(
        f"{API}/datasets/{dataset.id}/tags",
        json={"item_ids": [ids[5]], "label_id": a},
        headers={"X-Labelwise-Tagger": "bob"},
    )
    assert bob.status_code == 201  # a person's label after the undo is the person's
    assert await _left(database, dataset.id) == [(model, 11, 2)]

    second = await _revoke(database, dataset.id, model)
    assert (second.revoked, second.skipped, second.event_count) == (11, 1, 2)
    assert second.event.parameters["skipped_items"] == [ids[5]]
    labels = await labels_of(server, dataset.id)
    assert labels == {ids[0]: [a], ids[1]: [a], ids[2]: [a], ids[5]: [a]}  # Alice's and Bob's stay
    assert await _left(database, dataset.id) == []
    with pytest.raises(Conflict, match="nothing to revoke"):
        await _revoke(database, dataset.id, model)
    await _replay_is_current(database, dataset.id)
    async with database.session() as session:  # rebuilt as of the undo: the labels it put back
        as_of = await history.labels_as_of(session, dataset.id, undone_at)
    assert {i: sorted(v) for i, v in as_of.items()} == {i: [b] for i in ids[:12]}


async def test_undoing_the_undo_of_a_revoke_takes_the_labels_again(server, dataset, database):
    s = await _scene(server, database, dataset.id)
    ids, b, model = s["ids"], s["b"], s["model"]
    revoke = await _revoke(database, dataset.id, model)
    back = await _undo(database, int(revoke.event.id))
    taken = await _undo(database, back)  # the revoke again, as an undo of its undo
    labels = await labels_of(server, dataset.id)
    assert not any(i in labels for i in ids[3:12])
    assert await _left(database, dataset.id) == []
    with pytest.raises(Conflict, match="nothing to revoke"):
        await _revoke(database, dataset.id, model)

    await _undo(database, taken)  # and back once more: the model's labels again
    labels = await labels_of(server, dataset.id)
    assert all(labels[i] == [b] for i in ids[:12])
    assert await _left(database, dataset.id) == [(model, 12, 2)]
    again = await _revoke(database, dataset.id, model)
    assert (again.revoked, again.skipped) == (12, 0)
    await _replay_is_current(database, dataset.id)


async def test_a_batch_undone_and_redone_is_the_models_again(server, dataset, database):
    s = await _scene(server, database, dataset.id)
    ids, a, b, model = s["ids"], s["a"], s["b"], s["model"]
    async with database.session() as session:
        request = TagRequest(
            dataset_id=dataset.id,
            tagger="carol",
            item_ids=ids[12:16],
            label_id=b,
            kind="explorer",
            model_id=model,
        )
        explorer = int((await record_event(session, request)).id)  # type: ignore[arg-type]
    undo = await _undo(database, explorer)
    assert await _left(database, dataset.id) == [(model, 12, 2)]
    await _undo(database, undo)  # Redo
    assert await _left(database, dataset.id) == [(model, 16, 3)]
    revoke = await _revoke(database, dataset.id, model)
    assert (revoke.revoked, revoke.event_count) == (16, 3)
    assert await labels_of(server, dataset.id) == {ids[0]: [a], ids[1]: [a], ids[2]: [a]}
    await _replay_is_current(database, dataset.id)


async def test_rest_and_graphql_revoke_again_after_an_undo(server, dataset, database):
    s = await _scene(server, database, dataset.id)
    url = f"{API}/datasets/{dataset.id}/revoke"
    first = await server.post(url, json={"model_id": s["model"]}, headers=ALICE)
    assert first.status_code == 201, first.text
    undo = await server.post(f"{API}/events/{first.json()['event']['id']}/undo", headers=ALICE)
    assert undo.status_code == 201, undo.text

    again = await server.post(url, json={"model_id": s["model"]}, headers=ALICE)
    assert again.status_code == 201, again.text  # was 409 "nothing to revoke"
    assert (again.json()["revoked"], again.json()["skipped"], again.json()["event_count"]) == (12, 0, 2)
    labels = await labels_of(server, dataset.id)
    assert not any(i in labels for i in s["ids"][3:12])

    undo = await server.post(f"{API}/events/{again.json()['event']['id']}/undo", headers=ALICE)
    assert undo.status_code == 201, undo.text
    query = """mutation($d: Int!, $m: Int) {
      revokeLabels(datasetId: $d, modelId: $m) { revoked skipped eventCount } }"""
    data = await gql(server, query, {"d": dataset.id, "m": s["model"]}, tagger="carol")
    assert data["revokeLabels"] == {"revoked": 12, "skipped": 0, "eventCount": 2}


async def test_the_history_and_model_pages_offer_the_model_again_after_undo_revoke(server, dataset, database):
    s = await _scene(server, database, dataset.id)
    model = str(s["model"])
    url = f"/datasets/{dataset.id}/history"
    headers = await csrf_headers(server, url)
    await server.post(f"{url}/revoke", data={"model_id": model}, headers=headers)
    revoke = (await server.get(f"{API}/datasets/{dataset.id}/events", params={"limit": 1})).json()["events"][
        0
    ]
    page = parse((await server.get(f"/models/{model}")).text)
    assert maybe_one(page, "//*[@id='revoke-model-link']") is None

    answer = await server.post(f"{url}/undo", data={"event_id": revoke["id"]}, headers=headers)
    assert answer.status_code == 200, answer.text
    options = all_of(parse(answer.text), "//form[@id='revoke-model']//option")
    assert [o.get("value") for o in options] == [model]
    assert "12 item(s) from 2 event(s)" in text_of(options[0])
    link = by_id(parse((await server.get(f"/models/{model}")).text), "revoke-model-link")
    assert "12 item(s) from 2 event(s)" in text_of(link.getparent())

    again = await server.post(f"{url}/revoke", data={"model_id": model}, headers=headers)
    notice = text_of(by_id(parse(again.text), "history-notice"))
    assert "Revoked the labels of 12 item(s) from 2 event(s)" in notice, notice


async def _by_chains(database: Database, dataset_id: int, items: list[int]) -> list[tuple[int, int, int]]:
    """labels_still_models read from every item's chain of decisions alone (no SQL shortcut)."""
    counted: dict[int, tuple[set[int], set[int]]] = {}
    async with database.session() as session:
        for item, chain in (await provenance.chains(session, items)).items():
            source = provenance.source(chain)
            if source is not None and source.model_made and source.model_id is not None:
                found = counted.setdefault(source.model_id, (set(), set()))
                found[0].add(item)
                found[1].add(source.id)
    return [(m, len(found[0]), len(found[1])) for m, found in sorted(counted.items())]


async def test_the_count_after_undoing_a_revoke_of_a_kind_is_what_the_chains_say(server, dataset, database):
    """Two models' batches of one kind revoked together, the revoke undone, one item relabeled and
    that undone too: the counts (answered in SQL where the latest change undoes a revoke) agree with
    the items' chains, for every model and for each one asked alone."""
    s = await _scene(server, database, dataset.id)
    ids, a, b, model = s["ids"], s["a"], s["b"], s["model"]
    other = await pca_model(server, dataset.id, infer=False)
    await model_batch(database, dataset.id, ids[12:16], a, "probability", other)
    await model_batch(database, dataset.id, ids[6:10], a, "probability", other)  # over the model's 6-9
    async with database.session() as session:
        revoke = await revoke_kind(session, dataset.id, "probability", tagger="carol")
    assert revoke.revoked == 14  # 0-7 and 12-15 to before their probability batches, 8-9 to similarity
    await _undo(database, int(revoke.event.id))
    bob = await tag_as_alice(server, dataset.id, [ids[13]], b)
    await _undo(database, int(bob["id"]))  # item 13: its latest change an undo of a person's label

    expected = await _by_chains(database, dataset.id, ids)
    # the model: 0-5 (probability), 10-11 (similarity); the other: 6-9 (second batch), 12-15 (first)
    assert expected == sorted([(model, 8, 2), (other, 8, 2)])
    assert await _left(database, dataset.id) == expected
    for m in (model, other):
        async with database.session() as session:
            alone = await labels_still_models(session, dataset_id=dataset.id, model_id=m)
        assert [(x.model_id, x.items, x.events) for x in alone] == [e for e in expected if e[0] == m]
