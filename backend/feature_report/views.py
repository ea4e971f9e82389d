"""Read models of the feature report, as every door shows it.

The domain keeps each model's scores as the worker wrote them (sparse JSON objects: a skipped
model has no scores); REST and GraphQL each copied them field by field. Built once here, both
render them by field name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.feature_report.report import FeatureReport


@dataclass(frozen=True, kw_only=True)
class ClassScoreView:
    """A class's share of its labeled items each score gets right."""

    label_id: int
    name: str
    count: int
    knn: float
    linear: float


@dataclass(frozen=True, kw_only=True)
class ModelScoreView:
    """One feature model's cross-validated scores; ``skipped`` says why a model was not scored."""

    model_id: int
    name: str
    algorithm: str
    available: bool
    score: float | None = None
    knn_accuracy: float | None = None
    linear_accuracy: float | None = None
    knn_balanced: float | None = None
    linear_balanced: float | None = None
    dimensions: int | None = None
    per_class: list[ClassScoreView] = field(default_factory=list)
    skipped: str | None = None
    # scored without and with the absolute-intensity descriptors; the scores above are the chosen one's
    with_intensity: bool | None = None
    intensity_in_vectors: bool | None = None
    score_without_intensity: float | None = None
    score_with_intensity: float | None = None

    @classmethod
    def of(cls, entry: dict[str, Any]) -> ModelScoreView:
        """From one entry of ``FeatureReport.models`` (keys it lacks take their defaults)."""
        names = {f.name for f in dataclasses.fields(cls)} - {"available", "per_class"}
        return cls(
            **{k: v for k, v in entry.items() if k in names},
            available=bool(entry.get("available")),
            per_class=[ClassScoreView(**c) for c in entry.get("per_class", [])],
        )


@dataclass(frozen=True, kw_only=True)
class FeatureReportView:
    """Which feature model separates the current labels best, and by how much (best first)."""

    dataset_id: int
    job_id: int | None
    finished_at: datetime | None
    labeled_items: int
    folds: int
    best_model_id: int | None
    explanation: str
    models: list[ModelScoreView]
    notes: list[str]
    pending_job_id: int | None
    failed: str | None
    # "on"/"off": run the best model's inference with this ``intensity_descriptors`` option so
    # that its vectors are the variant the report chose; None: they are already
    infer_intensity: str | None = None

    @classmethod
    def of(cls, r: FeatureReport) -> FeatureReportView:
        return cls(
            dataset_id=r.dataset_id,
            job_id=r.job_id,
            finished_at=r.finished_at,
            labeled_items=r.labeled_items,
            folds=r.folds,
            best_model_id=r.best_model_id,
            explanation=r.explanation,
            models=[ModelScoreView.of(m) for m in r.models],
            notes=list(r.notes),
            pending_job_id=r.pending_job_id,
            failed=r.failed,
            infer_intensity=r.infer_intensity,
        )
