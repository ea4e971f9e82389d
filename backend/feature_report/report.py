"""The feature report's read model: the newest report of a dataset and its best feature model.

Read-only and free of job submission, so ``backend.jobs.submission`` imports it at the top (a
feature-model field records the report's best model) without a circle through
``backend.feature_report.service``, which submits report jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.jobs import states
from backend.storage.job_tables import Job, Model

KIND = "feature-report"


@dataclass
class FeatureReport:
    """The newest finished report of a dataset (and a newer one still queued or running, if any)."""

    dataset_id: int
    job_id: int | None = None
    finished_at: datetime | None = None
    labeled_items: int = 0
    seen_labels: int = 0  # labeled items the job saw, those it could not score included
    folds: int = 0
    classes: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)  # best first; skipped ones last
    best_model_id: int | None = None
    explanation: str = "No feature report yet: once a few items of each class are labeled, run one."
    notes: list[str] = field(default_factory=list)
    # the inference option ("on"/"off") that makes the best model's vectors the variant the report
    # chose (with or without the absolute-intensity descriptors); None: they are that variant
    infer_intensity: str | None = None
    pending_job_id: int | None = None
    failed: str | None = None  # the newest report job failed: why


async def latest_report(session: AsyncSession, dataset_id: int) -> FeatureReport:
    await get_dataset(session, dataset_id)
    report = FeatureReport(dataset_id=dataset_id)
    jobs = (
        await session.scalars(
            select(Job)
            .where(col(Job.dataset_id) == dataset_id, col(Job.kind) == KIND)
            .order_by(col(Job.id).desc())
            .limit(20)
            .execution_options(populate_existing=True)
        )
    ).all()
    for job in jobs:
        if job.state in states.ACTIVE and report.pending_job_id is None:
            report.pending_job_id = job.id
        elif job.state == states.FAILED and report.failed is None and report.job_id is None:
            report.failed = job.error
        elif job.state == states.SUCCEEDED:
            found = job.outputs.get("summary", {})
            report.job_id, report.finished_at = job.id, job.finished_at
            for name in (
                "labeled_items",
                "seen_labels",
                "folds",
                "classes",
                "best_model_id",
                "explanation",
                "notes",
            ):
                if name in found:
                    setattr(report, name, found[name])
            # where the vectors lie on the server is no reader's business
            report.models = [_model_entry(m) for m in found.get("models", [])]
            break
    if report.job_id is not None:
        await _drop_gone(session, report)
    return report


def _model_entry(found: dict[str, Any]) -> dict[str, Any]:
    """A model's entry as the doors show it: no server path, both intensity variants' scores."""
    entry = {k: v for k, v in found.items() if k != "dir"}
    variants = entry.get("intensity") or {}
    for name in ("with", "without"):
        if name in variants:
            entry[f"score_{name}_intensity"] = variants[name]["score"]
    return entry


def infer_intensity(best: dict[str, Any] | None) -> str | None:
    """ "on"/"off": run the model's inference so with that ``intensity_descriptors`` option and its
    vectors are the variant the report chose; None: they are already (or an older report)."""
    if not best or "with_intensity" not in best:
        return None
    if best["with_intensity"] and not best.get("intensity_in_vectors"):
        return "on"
    if not best["with_intensity"] and best.get("intensity_in_vectors"):
        return "off"
    return None


async def _drop_gone(session: AsyncSession, report: FeatureReport) -> None:
    """A model deleted since the report is no choice: the best is the next one still ready."""
    ids = [m["model_id"] for m in report.models]
    ready = set(
        await session.scalars(
            select(col(Model.id)).where(
                col(Model.id).in_(ids or [-1]), col(Model.state) == states.MODEL_READY
            )
        )
    )
    for entry in report.models:
        entry["available"] = entry["model_id"] in ready
    scored = [m for m in report.models if "score" in m and m["available"]]
    report.best_model_id = scored[0]["model_id"] if scored else None
    report.infer_intensity = infer_intensity(scored[0] if scored else None)


def report_due(report: FeatureReport, labeled: int, class_counts: dict[int, int], candidates: int) -> bool:
    """Whether a new report is worth running: two classes hold two labeled items each, two feature
    models have vectors to compare, none is queued, and there is no report yet or the labeled items
    doubled since the last one (counting every label it saw: those it scored leave out classes of one
    item, and 10 diverse labels scored as 4 asked for the same report three times). The queue
    suggests it on this rule and keeping models fresh runs it on the same one."""
    two_classes = sum(1 for n in class_counts.values() if n >= 2) >= 2
    return two_classes and candidates >= 2 and report_outgrown(report, labeled)


def report_outgrown(report: FeatureReport, labeled: int) -> bool:
    """The half of ``report_due`` that needs no counting: none queued, and none yet or the labeled
    items doubled since the last."""
    return report.pending_job_id is None and (
        report.job_id is None or labeled >= 2 * max(1, report.seen_labels or report.labeled_items)
    )


async def best_feature_model(session: AsyncSession, dataset_id: int) -> int | None:
    """The best-scoring feature model of the latest report (None: no report, or none left)."""
    return (await latest_report(session, dataset_id)).best_model_id
