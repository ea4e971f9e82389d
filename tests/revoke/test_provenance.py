"""An item's chain of decisions (``backend.labels.provenance``), from made-up histories: undos and
revokes put back what earlier events decided, and a record that fits no rule is a decision itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.labels.provenance import Chain, EventFacts, chain_of, revoked_by, source

T0 = datetime(2026, 1, 1, tzinfo=UTC)
A, B, C = frozenset({1}), frozenset({2}), frozenset({3})
NONE: frozenset[int] = frozenset()


def _event(event_id: int, kind: str, model_id: int | None = None, undoes: int | None = None) -> EventFacts:
    return EventFacts(event_id, 1, kind, model_id, undoes, T0 + timedelta(minutes=event_id))


def _ids(chain: Chain) -> list[int]:
    return [d.event.id for d in chain]


MANUAL = _event(1, "manual")
BATCH = _event(2, "probability", model_id=7)
REVOKE = _event(3, "undo")
REVOKES = {3: revoked_by(REVOKE, {"revoke": "model", "model_id": 7, "revokes": [2]})}


def test_an_undone_revoke_gives_the_labels_back_to_the_batch() -> None:
    revoked = chain_of([(MANUAL, A), (BATCH, B), (REVOKE, A)], REVOKES)
    assert _ids(revoked) == [1]
    back = chain_of([(MANUAL, A), (BATCH, B), (REVOKE, A), (_event(4, "undo", undoes=3), B)], REVOKES)
    assert _ids(back) == [1, 2] and source(back) == BATCH
    again = [
        (MANUAL, A),
        (BATCH, B),
        (REVOKE, A),
        (_event(4, "undo", undoes=3), B),
        (_event(5, "undo", undoes=4), A),
    ]
    assert _ids(chain_of(again, REVOKES)) == [1]  # undoing the undo revokes again


def test_a_redone_batch_is_the_batchs_and_a_later_label_the_persons() -> None:
    redone = [(BATCH, B), (_event(3, "undo", undoes=2), NONE), (_event(4, "undo", undoes=3), B)]
    assert _ids(chain_of(redone, {})) == [2]
    relabeled = [*redone, (_event(5, "manual"), C)]
    assert _ids(chain_of(relabeled, {})) == [2, 5]


def test_a_revoke_goes_back_as_far_as_the_labels_it_restored() -> None:
    """A revoke recorded before undone revokes were followed took back only the batch on top of the
    item's history: the labels it left are the older batch's, so the chain stops there."""
    second = _event(5, "similarity", model_id=7)
    old_revoke = _event(6, "undo")
    revokes = {**REVOKES, 6: revoked_by(old_revoke, {"revoke": "model", "model_id": 7, "revokes": [5]})}
    steps = [(BATCH, B), (REVOKE, NONE), (_event(4, "undo", undoes=3), B), (second, C), (old_revoke, B)]
    assert _ids(chain_of(steps, revokes)) == [2]
    steps[-1] = (old_revoke, NONE)  # as a revoke does now: both batches
    assert _ids(chain_of(steps, revokes)) == []


def test_an_undo_that_fits_no_rule_is_a_decision_of_its_own() -> None:
    stray = _event(4, "undo")  # names no event and lists none
    chain = chain_of([(MANUAL, A), (BATCH, B), (stray, C)], {4: revoked_by(stray, {})})
    assert _ids(chain) == [1, 2, 4]


def test_a_revoke_of_a_kind_names_its_time_range() -> None:
    revoke = _event(9, "undo")
    since, until = (T0 + timedelta(minutes=3)).isoformat(), (T0 + timedelta(minutes=5)).isoformat()
    selects = revoked_by(
        revoke,
        {"revoke": "kind", "revoked_kind": "similarity", "since": since, "until": until, "revokes": []},
    )
    assert [selects(_event(i, "similarity")) for i in (2, 3, 5, 6)] == [False, True, True, False]
    assert not selects(_event(4, "probability"))
