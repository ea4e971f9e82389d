"""Read models of guided labeling: a similarity page, a probability batch, guardrail flags, the
stopping estimate and the next-actions queue, as every door shows them.

The domain keeps what it computes with (parallel id and score lists, ``(k, accuracy)`` tuples,
flags by item id); REST and GraphQL each turned those into rows of their own and drifted (GraphQL's
probability page lacked ``all_classes``). Built once here, both render them by field name.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.guided.guardrails import BatchFlags
from backend.guided.heldout import BatchEstimate
from backend.guided.next_actions import NextActions, Suggestion
from backend.guided.quality import ModelFitness
from backend.guided.service import ProbabilityPage, SimilarPage
from backend.guided.stopping import StoppingEstimate


@dataclass(frozen=True, kw_only=True)
class BatchFlagView:
    """A batch item the guardrails flag, and why."""

    item_id: int
    reasons: list[str]


def flag_views(flags: dict[int, list[str]]) -> list[BatchFlagView]:
    return [BatchFlagView(item_id=i, reasons=list(r)) for i, r in flags.items()]


@dataclass(frozen=True, kw_only=True)
class BatchFlagsView:
    """Guardrail flags of a batch and the rule that made them."""

    rule: str
    distance_limit: float | None
    flags: list[BatchFlagView]

    @classmethod
    def of(cls, found: BatchFlags) -> BatchFlagsView:
        return cls(rule=found.rule, distance_limit=found.distance_limit, flags=flag_views(found.flags))


@dataclass(frozen=True, kw_only=True)
class SimilarItemView:
    item_id: int
    similarity: float


@dataclass(frozen=True, kw_only=True)
class SimilarPageView:
    """A page of a similarity ranking, best first; ``total`` counts the whole ranking."""

    dataset_id: int
    model_id: int
    query_item_ids: list[int]
    mode: str
    exact: bool
    total: int
    offset: int
    limit: int
    items: list[SimilarItemView]

    @classmethod
    def of(cls, page: SimilarPage) -> SimilarPageView:
        return cls(
            dataset_id=page.dataset_id,
            model_id=page.model_id,
            query_item_ids=list(page.query_item_ids),
            mode=page.mode,
            exact=page.exact,
            total=page.total,
            offset=page.offset,
            limit=page.limit,
            items=[
                SimilarItemView(item_id=i, similarity=s)
                for i, s in zip(page.item_ids, page.similarities, strict=True)
            ],
        )


@dataclass(frozen=True, kw_only=True)
class ProbabilityCandidateView:
    """An item whose class probability passes the threshold."""

    item_id: int
    label_id: int
    probability: float


@dataclass(frozen=True, kw_only=True)
class ProbabilityPageView:
    """How many items pass a probability threshold (``count``), a page of them, and the preview:
    the model's fitness, the batch estimate, whether applying needs confirmation, guardrail flags
    of the page's items (``flagged_count``: of the whole batch)."""

    dataset_id: int
    model_id: int
    threshold: float
    label_id: int | None
    all_classes: bool
    overwrite: bool
    count: int
    offset: int
    limit: int
    items: list[ProbabilityCandidateView]
    fitness: ModelFitness | None
    estimate: BatchEstimate | None
    confirm_over: int
    needs_confirmation: bool
    flags: list[BatchFlagView]
    flag_rule: str
    flagged_count: int
    seen_event_id: int  # the newest label event when it was read: pass it to apply

    @classmethod
    def of(cls, page: ProbabilityPage) -> ProbabilityPageView:
        return cls(
            dataset_id=page.dataset_id,
            model_id=page.model_id,
            threshold=page.threshold,
            label_id=page.label_id,
            all_classes=page.label_id is None,
            overwrite=page.overwrite,
            count=page.count,
            offset=page.offset,
            limit=page.limit,
            items=[
                ProbabilityCandidateView(item_id=i, label_id=label, probability=p)
                for i, label, p in zip(page.item_ids, page.label_ids, page.probabilities, strict=True)
            ],
            fitness=page.fitness,
            estimate=page.estimate,
            confirm_over=page.confirm_over,
            needs_confirmation=page.needs_confirmation,
            flags=flag_views(page.flags),
            flag_rule=page.flag_rule,
            flagged_count=page.flagged_count,
            seen_event_id=page.seen_event_id,
        )


@dataclass(frozen=True, kw_only=True)
class MoreLabelsView:
    more_labels: int
    accuracy: float


@dataclass(frozen=True, kw_only=True)
class CurvePointView:
    labeled: int
    accuracy: float


@dataclass(frozen=True, kw_only=True)
class StoppingEstimateView:
    """How many items are left, at what accuracy they would be auto-labeled at >= ``threshold``
    now (calibrated on held-out labeled items), and projected with K more labels."""

    unlabeled: int
    labeled: int
    model_id: int | None
    threshold: float
    auto_label_count: int
    expected_accuracy: float | None
    with_more_labels: list[MoreLabelsView]
    reason: str
    held_out_items: int
    exponent: float | None
    curve: list[CurvePointView]
    fitness: str | None
    seen_event_id: int

    @classmethod
    def of(cls, e: StoppingEstimate) -> StoppingEstimateView:
        return cls(
            unlabeled=e.unlabeled,
            labeled=e.labeled,
            model_id=e.model_id,
            threshold=e.threshold,
            auto_label_count=e.auto_label_count,
            expected_accuracy=e.expected_accuracy,
            with_more_labels=[MoreLabelsView(more_labels=k, accuracy=a) for k, a in e.with_more_labels],
            reason=e.reason,
            held_out_items=e.held_out_items,
            exponent=e.exponent,
            curve=[CurvePointView(labeled=n, accuracy=a) for n, a in e.curve],
            fitness=e.fitness,
            seen_event_id=e.seen_event_id,
        )


@dataclass(frozen=True, kw_only=True)
class NextActionsView:
    """The queue: suggestions (each a ``Suggestion``, already a read model), most expected labels
    per action first; ``needs``: what it needs before it can suggest more; ``stopping``: the
    stopping estimate (None until there is one); ``running_job_ids``: the dataset's jobs queued or
    running; ``server_steps_due``: the server is about to queue a step by itself (a chained
    step, or keeping models fresh: a retrain or report due): a script that waits for fresh models
    waits while either holds."""

    dataset_id: int
    suggestions: list[Suggestion]
    needs: list[str]
    stopping: StoppingEstimateView | None
    running_job_ids: list[int]
    server_steps_due: bool

    @classmethod
    def of(cls, found: NextActions) -> NextActionsView:
        return cls(
            dataset_id=found.dataset_id,
            suggestions=list(found.suggestions),
            needs=list(found.needs),
            stopping=StoppingEstimateView.of(found.stopping) if found.stopping is not None else None,
            running_job_ids=list(found.running_job_ids),
            server_steps_due=found.server_steps_due,
        )
