"""Which events the History page says an undo would change nothing of (``backend.labels.undoable``):
never one whose undo would do something, and every one whose items were all changed since."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select
from sqlmodel import col

from backend.errors import Conflict, Invalid
from backend.labels import classes, events, undoable
from backend.labels.events import TagRequest
from backend.labels.revoke import revoke_kind, undone_by
from backend.storage.tables import Tag, TagEvent
from tests.helpers.labels import cat_dog_dataset

OPS = ("set", "set", "add", "remove", "clear")


async def _what_undo_finds(session, event_id: int) -> tuple[bool, bool, bool]:
    """What ``undo_event`` decides, without undoing: (nothing to undo, every item changed since,
    every item has one tag in the event, a set or a clear: what it left is known without replay)."""
    tags = (
        await session.execute(select(col(Tag.item_id), col(Tag.op)).where(col(Tag.event_id) == event_id))
    ).all()
    item_ids = list(dict.fromkeys(item for item, _ in tags))
    before, after = await events._item_states_around(session, item_ids, event_id)
    current = await events.current_state(session, item_ids)
    skipped = [i for i in item_ids if current.get(i, frozenset()) != after.get(i, frozenset())]
    changes = [
        i for i in item_ids if i not in skipped and before.get(i, frozenset()) != after.get(i, frozenset())
    ]
    known = len(tags) == len(item_ids) and all(op in ("set", "clear") for _, op in tags)
    return not changes, len(skipped) == len(item_ids), known


async def _random_history(session, dataset_id: int, ids: list[int], labels: list[int], seed: int) -> None:
    """Labels set, added, removed and cleared by hand and by "import" batches, undos and redos of
    random events, and revokes of the imports."""
    rng = random.Random(seed)
    done: list[int] = []
    for _ in range(40):
        roll = rng.random()
        try:
            if roll < 0.15 and done:
                done.append(int((await events.undo_event(session, rng.choice(done), "undoer")).id or 0))
            elif roll < 0.2:
                revoke = await revoke_kind(session, dataset_id, "import", tagger="revoker")
                done.append(int(revoke.event.id or 0))
            else:
                op = rng.choice(OPS)
                request = TagRequest(
                    dataset_id,
                    rng.choice(("ann", "bob")),
                    rng.sample(ids, rng.randint(1, 3)),
                    None if op == "clear" else rng.choice(labels),
                    op=op,
                    kind=rng.choice(("manual", "import")),
                )
                done.append(int((await events.record_event(session, request)).id or 0))
        except (Conflict, Invalid):
            await session.rollback()


@pytest.mark.parametrize("multi", [False, True])
@pytest.mark.parametrize("seed", range(6))
async def test_nothing_left_is_said_exactly_where_undo_finds_every_item_changed_since(
    session, settings, folder, multi, seed
):
    dataset, ids, cat, dog = await cat_dog_dataset(session, settings, folder, count=5, multi=multi)
    bird = await classes.create_class(session, dataset.id, "bird", None, "b")
    await _random_history(session, dataset.id, ids, [cat.id, dog.id, int(bird.id or 0)], seed)
    listed = list(
        (await session.scalars(select(TagEvent).where(col(TagEvent.dataset_id) == dataset.id))).all()
    )
    undone = await undone_by(session, [int(e.id or 0) for e in listed])
    said = await undoable.nothing_left(session, listed, undone)
    event_ids = [int(e.id or 0) for e in listed]  # plain ids: a refused undo rolls back, expiring rows
    assert said  # the scene holds events whose labels were all changed since
    for event_id in event_ids:
        if event_id in undone:
            assert event_id not in said  # its row says "undone by" already
            continue
        nothing, all_changed, known = await _what_undo_finds(session, event_id)
        if event_id in said:
            assert nothing, f"event {event_id}: '{said[event_id]}' but its undo would change labels"
            with pytest.raises(Conflict, match="nothing to undo"):
                await events.undo_event(session, event_id, "checker")
        elif all_changed and known:
            pytest.fail(f"event {event_id}: every item changed since, and the row offers an undo")


async def test_a_batch_revoked_says_by_which_revoke_and_a_relabel_changed_back_keeps_its_undo(
    session, settings, folder
):
    dataset, ids, cat, dog = await cat_dog_dataset(session, settings, folder)
    batch = await events.record_event(session, TagRequest(dataset.id, "ann", ids[:3], cat.id, kind="import"))
    revoked = await revoke_kind(session, dataset.id, "import", tagger="ann")
    by_hand = await events.record_event(session, TagRequest(dataset.id, "ann", ids[3:5], cat.id))
    await events.record_event(session, TagRequest(dataset.id, "bob", ids[3:5], dog.id))
    back = await events.record_event(session, TagRequest(dataset.id, "ann", [ids[5]], cat.id))
    other = await events.record_event(session, TagRequest(dataset.id, "bob", [ids[5]], dog.id))
    await events.undo_event(session, int(other.id or 0), "bob")  # ids[5] holds cat again: ann's label
    listed = list(
        (await session.scalars(select(TagEvent).where(col(TagEvent.dataset_id) == dataset.id))).all()
    )
    said = await undoable.nothing_left(session, listed, await undone_by(session, [e.id for e in listed]))
    assert said[batch.id] == f"nothing left to undo: revoked by #{revoked.event.id}"
    assert said[by_hand.id] == "nothing left to undo: its labels were changed since"
    assert back.id not in said and revoked.event.id not in said
    assert (await events.undo_event(session, int(back.id or 0), "ann")).tag_count == 1
