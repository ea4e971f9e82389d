"""Where an item's labels come from: the event that decided them, followed through undos and revokes.

An event that labels (a person's click, a model's batch, an import, a review) decides an item's
labels. An 'undo' event decides nothing: it puts back labels an earlier event decided. So each item
has a chain of decisions, the last of which gave its current labels:

- a labeling event adds itself to the chain;
- an undo of event E goes back to the chain as it stood just before E: undoing an undo (a redo)
  brings E's decision back, and undoing a revoke brings back the batches the revoke took;
- a revoke goes back to the chain before the trailing run of the events it revoked.

An undo whose labels are not those of the chain it goes back to (a record from before this rule)
counts as a decision of its own. Nothing here is stored: it is read from the tags, the same record
that every rebuild of the labels replays, so it holds for the labels as of any time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.labels.replay import apply_op
from backend.storage.tables import Tag, TagEvent

CHUNK = 5000
# The kinds of event a model writes labels with: batches whose items the model picked (a similarity
# ranking by its features; a probability, predicted-classes or auto-label-the-rest batch by its class
# probabilities; a selection in its projection on the Explorer). Listed, not "every event with its id":
# a 'review' event carries the id of the model that ranked the suspects, but its keep or relabel is a
# person's decision, and revoking the model must not take it back; 'manual' and 'import' are people's.
MODEL_LABEL_KINDS = ("similarity", "probability", "explorer")


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What the chain needs to know of one event."""

    id: int
    dataset_id: int
    kind: str
    model_id: int | None
    undoes_event_id: int | None
    created_at: datetime

    @property
    def model_made(self) -> bool:
        """A model's batch: its labels are the model's."""
        return self.model_id is not None and self.kind in MODEL_LABEL_KINDS


@dataclass(frozen=True, slots=True)
class Decision:
    """An event that decided an item's labels, and the labels it left the item with."""

    event: EventFacts
    labels: frozenset[int]


Chain = tuple[Decision, ...]
Selects = Callable[[EventFacts], bool]


def labels_of(chain: Chain) -> frozenset[int]:
    return chain[-1].labels if chain else frozenset()


def source(chain: Chain) -> EventFacts | None:
    """The event the item's current labels come from (None: it never had a decided label)."""
    return chain[-1].event if chain else None


def trailing_run(chain: Chain, selects: Selects) -> int:
    """Where the run of selected events that ends the chain starts (``len(chain)``: it ends in none)."""
    start = len(chain)
    while start > 0 and selects(chain[start - 1].event):
        start -= 1
    return start


def _moment(raw: Any) -> datetime | None:
    if not raw:
        return None
    moment = datetime.fromisoformat(str(raw))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def revoked_by(revoke: EventFacts, parameters: dict[str, Any]) -> Selects:
    """The events a revoke took back, as ``backend.labels.revoke`` chose them: those it lists, and
    those its model or its kind and time range name (it lists only the first 1000)."""
    listed = {int(i) for i in parameters.get("revokes") or ()}
    if parameters.get("revoke") == "model":
        model_id = parameters.get("model_id")
        return lambda e: (
            e.id in listed or (e.model_made and e.model_id == model_id and e.dataset_id == revoke.dataset_id)
        )
    if parameters.get("revoke") == "kind":
        kind = parameters.get("revoked_kind")
        since, until = (_moment(parameters.get(k)) for k in ("since", "until"))
        return lambda e: (
            e.id in listed
            or (
                e.kind == kind
                and e.dataset_id == revoke.dataset_id
                and (since is None or e.created_at >= since)
                and (until is None or e.created_at <= until)
            )
        )
    return lambda e: e.id in listed


def chain_of(steps: Sequence[tuple[EventFacts, frozenset[int]]], revokes: dict[int, Selects]) -> Chain:
    """An item's chain of decisions from its history: each event that touched it, oldest first, with
    the labels it left; ``revokes`` says, per revoke event, which events it took back."""
    chain: Chain = ()
    before: dict[int, Chain] = {}  # event id -> the chain just before that event touched the item
    for event, labels in steps:
        before[event.id] = chain
        if event.kind != "undo":
            chain = (*chain, Decision(event, labels))
            continue
        if event.undoes_event_id is not None:
            back = before.get(event.undoes_event_id)
            candidates = [] if back is None else [back]
        else:  # a revoke: back before its run, the longest one whose labels it restored
            start = trailing_run(chain, revokes.get(event.id, lambda _e: False))
            candidates = [chain[:cut] for cut in range(start, len(chain) + 1)]
        chain = next((c for c in candidates if labels_of(c) == labels), (*chain, Decision(event, labels)))
    return chain


async def _facts(session: AsyncSession, event_ids: Sequence[int]) -> dict[int, EventFacts]:
    found: dict[int, EventFacts] = {}
    for start in range(0, len(event_ids), CHUNK):
        rows = await session.execute(
            select(
                col(TagEvent.id),
                col(TagEvent.dataset_id),
                col(TagEvent.kind),
                col(TagEvent.model_id),
                col(TagEvent.undoes_event_id),
                col(TagEvent.created_at),
            ).where(col(TagEvent.id).in_(event_ids[start : start + CHUNK]))
        )
        for event_id, dataset_id, kind, model_id, undoes, created_at in rows.tuples().all():
            assert event_id is not None  # a stored row
            found[event_id] = EventFacts(event_id, dataset_id, kind, model_id, undoes, created_at)
    return found


async def _revokes(session: AsyncSession, facts: list[EventFacts]) -> dict[int, Selects]:
    """Per revoke event among ``facts`` (an undo that names no event), what it took back."""
    revokes = {e.id: e for e in facts if e.kind == "undo" and e.undoes_event_id is None}
    ids = list(revokes)
    selects: dict[int, Selects] = {}
    for start in range(0, len(ids), CHUNK):
        rows = await session.execute(
            select(col(TagEvent.id), col(TagEvent.parameters)).where(
                col(TagEvent.id).in_(ids[start : start + CHUNK])
            )
        )
        for event_id, parameters in rows.tuples().all():
            selects[int(event_id)] = revoked_by(revokes[int(event_id)], parameters or {})
    return selects


async def chains(session: AsyncSession, item_ids: Sequence[int]) -> dict[int, Chain]:
    """Each item's chain of decisions (items without any tag have none), from their whole history."""
    found: dict[int, Chain] = {}
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        rows = await session.execute(
            select(col(Tag.item_id), col(Tag.event_id), col(Tag.op), col(Tag.label_id))
            .where(col(Tag.item_id).in_(chunk))
            .order_by(col(Tag.event_id), col(Tag.id))
        )
        history: dict[int, list[tuple[int, frozenset[int]]]] = {}
        for item_id, event_id, op, label_id in rows.tuples().all():
            steps = history.setdefault(item_id, [])
            if steps and steps[-1][0] == event_id:  # one event's several tags: clear, then add each
                steps[-1] = (event_id, apply_op(steps[-1][1], op, label_id))
            else:
                steps.append((event_id, apply_op(steps[-1][1] if steps else frozenset(), op, label_id)))
        facts = await _facts(session, sorted({e for steps in history.values() for e, _ in steps}))
        revokes = await _revokes(session, list(facts.values()))
        for item_id, steps in history.items():
            found[item_id] = chain_of([(facts[e], labels) for e, labels in steps], revokes)
    return found
