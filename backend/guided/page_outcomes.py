"""What the similarity pages accepted from the queue held, against what they promised.

A similarity page's promise rests on the class's labeled items (leave one out) and on the
candidates' labeled neighbours. Both are read from the features alone, and both ran high on real
cells early on (a page of G1 cells promised 63.5% and held 47.9%): items earlier pages labeled were
chosen by the same nearness, and nothing in the features says so. The person who accepts a page
says more: the tiles kept are of the class, the tiles clicked out or labeled in place with another
class are not. ``promise_scales`` turns those judgements into one factor per class by which the
next pages' figures are multiplied (docs/decisions/0030).

Only pages accepted from the queue count (their event records the promise); a page taken back
later (undone, revoked) has no kept tile still holding its class and is left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.storage.tables import CurrentLabel, Tag, TagEvent

RECENT_PAGES = 200  # the newest accepted pages read (bounded work; older ones say less of now)
# pseudo-items at the pooled ratio a class's own pages are weighed against (the smallest page a
# suggestion offers: one page of the class moves its factor halfway or more)
SCALE_PRIOR_ITEMS = 8.0
# the pooled ratio's own pseudo-items at "held what it promised": a single page does not rescale
# every class
POOLED_PRIOR_ITEMS = 16.0


@dataclass(frozen=True)
class PageOutcome:
    """One similarity page accepted from the queue: its class, what it promised, the tiles judged."""

    label_id: int
    promised: float
    right: int  # kept tiles that still hold the class
    wrong: int  # tiles clicked out (rejected) or labeled in place with another class

    @property
    def judged(self) -> int:
        return self.right + self.wrong


def outcome_parameters(promised: Any, judged_wrong: int) -> dict[str, Any]:
    """What a queue-accepted similarity page records beside its event for ``page_outcomes``."""
    if not isinstance(promised, int | float) or not 0.0 < float(promised) <= 1.0:
        return {}
    return {"expected_precision": float(promised), "judged_wrong": int(judged_wrong)}


async def page_outcomes(session: AsyncSession, dataset_id: int) -> list[PageOutcome]:
    """The dataset's newest ``RECENT_PAGES`` similarity pages accepted from the queue, oldest first."""
    rows = (
        await session.execute(
            select(col(TagEvent.id), col(TagEvent.parameters))
            .where(col(TagEvent.dataset_id) == dataset_id, col(TagEvent.kind) == "similarity")
            .order_by(col(TagEvent.id).desc())
            .limit(RECENT_PAGES)
        )
    ).all()
    pages = {
        int(event_id): parameters
        for event_id, parameters in rows
        if isinstance(parameters, dict) and "expected_precision" in parameters and "label_id" in parameters
    }
    if not pages:
        return []
    still = dict(
        (
            await session.execute(
                select(col(Tag.event_id), func.count())
                .join(
                    CurrentLabel,
                    and_(
                        col(CurrentLabel.item_id) == col(Tag.item_id),
                        col(CurrentLabel.label_id) == col(Tag.label_id),
                    ),
                )
                .where(col(Tag.event_id).in_(list(pages)))
                .group_by(col(Tag.event_id))
            )
        )
        .tuples()
        .all()
    )
    found = []
    for event_id in sorted(pages):
        parameters, right = pages[event_id], int(still.get(event_id, 0))
        if not right:  # taken back (undone, revoked) or every tile relabeled since: says nothing
            continue
        found.append(
            PageOutcome(
                int(parameters["label_id"]),
                float(parameters["expected_precision"]),
                right,
                max(0, int(parameters.get("judged_wrong", 0))),
            )
        )
    return found


@dataclass(frozen=True)
class PromiseScales:
    """Per class, the factor its next similarity pages' figures are multiplied by."""

    by_class: dict[int, float]
    pooled: float = 1.0  # a class without a page of its own yet: every class's pages

    def of(self, label_id: int) -> float:
        return self.by_class.get(label_id, self.pooled)


def promise_scales(outcomes: Iterable[PageOutcome]) -> PromiseScales:
    """The tiles each class's pages held over the tiles they promised (of those judged), pulled
    towards the same ratio over every class's pages (itself pulled towards 1), so one page moves
    a class's factor; a class with no page yet takes the pooled ratio (the features and the way
    pages are cut are the same for every class, so is their bias, as far as it is known)."""
    outcomes = list(outcomes)
    if not outcomes:
        return PromiseScales({})
    held_all = sum(o.right for o in outcomes)
    expected_all = sum(o.promised * o.judged for o in outcomes)
    pooled = (held_all + POOLED_PRIOR_ITEMS) / (expected_all + POOLED_PRIOR_ITEMS)
    scales = {}
    for label_id in sorted({o.label_id for o in outcomes}):
        mine = [o for o in outcomes if o.label_id == label_id]
        held = sum(o.right for o in mine)
        expected = sum(o.promised * o.judged for o in mine)
        scales[label_id] = (held + SCALE_PRIOR_ITEMS * pooled) / (expected + SCALE_PRIOR_ITEMS)
    return PromiseScales(scales, pooled)
