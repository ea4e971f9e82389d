"""A labeling action a client asks for (the label page, REST, GraphQL): the one function they call.

``tag_items`` records one event for the same operation on many items, under the dataset's lock,
and applies the labeling rules a door may ask for:

- ``skip_unchanged``: items the action would not change are left out of the event, so a double
  submit or a repeated key records nothing; when no item changes, no event is recorded at all.
- ``skip_missing``: items deleted since the caller saw them (or not of the dataset) are left out
  and reported, instead of refusing the whole action with ``NotFound``.

The label page asks for both (a person clicking). REST and GraphQL keep their contract: every item
listed is recorded (an event that changes nothing is still an event) and an unknown item is
``NotFound``; they call ``record_client_event``, which is ``tag_items`` with neither rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import Invalid
from backend.labels.events import (
    TagRequest,
    apply_changes,
    current_state,
    existing_items,
    lock_dataset,
    normalise,
)
from backend.labels.replay import apply_op
from backend.storage.tables import TagEvent

# Provenance (docs/decisions/0007): what a client may record through the tag doors. Model-made
# kinds (similarity, probability, explorer) are recorded only by the server's batch endpoints,
# which set the kind, the model id and the parameters from what they checked; 'undo' by undo/redo.
CLIENT_KINDS = ("manual", "import", "review")


@dataclass
class Tagging:
    """What a labeling action did: its event (None: nothing to record) and the items left out."""

    event: TagEvent | None
    unchanged: list[int] = field(default_factory=list)  # already as the action would leave them
    missing: list[int] = field(default_factory=list)  # not (or no longer) items of the dataset


def _check_client(request: TagRequest) -> None:
    """A client cannot vouch for a model's part in an event, so it may not name one: the event's
    ``model_id`` would claim provenance the server never checked."""
    if request.kind not in CLIENT_KINDS:
        raise Invalid(
            f"events of kind '{request.kind}' are recorded by the server's batch endpoints (label "
            "similar items, apply probabilities, explorer selection), which set the model and "
            f"parameters they used; a client may record {', '.join(CLIENT_KINDS)} events",
            field="kind",
        )
    if request.model_id is not None:
        raise Invalid(
            "a client-made event cannot name a model: only the server's batch endpoints record "
            "which model labeled items",
            field="model_id",
        )


async def tag_items(
    session: AsyncSession,
    request: TagRequest,
    *,
    skip_unchanged: bool = False,
    skip_missing: bool = False,
) -> Tagging:
    """Record the action as one event (committed), leaving out what the chosen rules skip."""
    _check_client(request)
    try:
        dataset = await lock_dataset(session, request.dataset_id)
        assert dataset.id is not None
        changes = request.changes()
        missing: list[int] = []
        if skip_missing:
            found = await existing_items(session, dataset.id, [c.item_id for c in changes])
            missing = [c.item_id for c in changes if c.item_id not in found]
            changes = [c for c in changes if c.item_id in found]
        unchanged: list[int] = []
        if skip_unchanged:
            changes = normalise(changes, dataset.multi_label)  # 'add' is 'set' on single-label data
            before = await current_state(session, [c.item_id for c in changes])
            kept = []
            for change in changes:
                was = before.get(change.item_id, frozenset())
                if apply_op(was, change.op, change.label_id) == was:
                    unchanged.append(change.item_id)
                else:
                    kept.append(change)
            changes = kept
        if not changes and (unchanged or missing):
            await session.rollback()  # nothing to record: release the lock
            return Tagging(None, unchanged, missing)
        event = await apply_changes(
            session,
            dataset,
            tagger=request.tagger,
            kind=request.kind,
            changes=changes,
            model_id=request.model_id,
            parameters=request.parameters,
        )
        await session.commit()
        return Tagging(event, unchanged, missing)
    except BaseException:
        await session.rollback()
        raise


async def record_client_event(session: AsyncSession, request: TagRequest) -> TagEvent:
    """REST's and GraphQL's tag: every listed item recorded, an unknown item ``NotFound``."""
    tagged = await tag_items(session, request)
    assert tagged.event is not None  # neither rule asked: an event or an error
    return tagged.event
