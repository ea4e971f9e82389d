"""Is a classifier fit to label batches? Judged from its held-out figures, never its training fit.

The worker writes ``summary["quality"]`` (``workers.algorithms.quality``): accuracy on held-out
items beside the majority-class baseline. A model no better than that baseline, or below
``settings.min_model_accuracy``, is *unfit*: it never becomes a default, and a batch with it
needs an explicit override. A model without held-out figures (older models, plug-ins that do
not report) is *unmeasured*: usable, shown as such, preferred last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.errors import Conflict
from backend.settings import Settings
from backend.storage.job_tables import Model

FIT, UNFIT, UNMEASURED = "fit", "unfit", "unmeasured"
# where a model's figures come from (``summary["quality"]["split"]``): a validation split, or the
# out-of-fold probabilities of every labeled item (decision 0029); "training" holds nothing out
VALIDATION_SPLIT, OUT_OF_FOLD = "validation", "out-of-fold"
HELD_OUT_SPLITS = (VALIDATION_SPLIT, OUT_OF_FOLD)
MIN_PER_CLASS = 5  # labels of each of two classes before a first classifier is suggested


@dataclass(frozen=True)
class ModelFitness:
    """The verdict and the numbers behind it (what pages, REST and GraphQL show)."""

    status: str  # fit | unfit | unmeasured
    accuracy: float | None
    baseline_accuracy: float | None
    baseline_class: str | None
    min_accuracy: float
    held_out_items: int
    split: str | None
    per_class_recall: dict[str, float | None]
    reason: str

    @property
    def unfit(self) -> bool:
        return self.status == UNFIT

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "accuracy": self.accuracy,
            "baseline_accuracy": self.baseline_accuracy,
            "baseline_class": self.baseline_class,
            "min_accuracy": self.min_accuracy,
            "held_out_items": self.held_out_items,
            "split": self.split,
            "per_class_recall": self.per_class_recall,
            "reason": self.reason,
        }


def model_fitness(model: Model, settings: Settings) -> ModelFitness:
    """The verdict on one model, by the rule stated in ``reason``."""
    floor = float(settings.min_model_accuracy)
    quality = (model.summary or {}).get("quality") if model.kind == "classifier" else None
    if not quality or quality.get("accuracy") is None:
        reason = (
            "not a classifier"
            if model.kind != "classifier"
            else "no held-out figures: this model's training did not report them"
        )
        return ModelFitness(UNMEASURED, None, None, None, floor, 0, None, {}, reason)
    accuracy = float(quality["accuracy"])
    baseline = float(quality.get("baseline_accuracy") or 0.0)
    split = str(quality.get("split") or VALIDATION_SPLIT)
    items = int(quality.get("items") or 0)
    # how many items the figure rests on: "100%" of 16 held-out items is not "100%" of 1,600
    on = f" on {items} items" if items else ""
    args = (
        accuracy,
        baseline,
        quality.get("baseline_class"),
        floor,
        items,
        split,
        dict(quality.get("per_class_recall") or {}),
    )
    figures = f"held-out accuracy {accuracy:.1%}{on} vs. majority-class baseline {baseline:.1%}"
    if split not in HELD_OUT_SPLITS:
        return ModelFitness(UNFIT, *args, f"no held-out items: {figures} measured on its training items")
    if accuracy <= baseline:
        return ModelFitness(UNFIT, *args, f"{figures}: no better than always answering one class")
    if accuracy < floor:
        return ModelFitness(UNFIT, *args, f"{figures}: below the minimum of {floor:.1%} (min_model_accuracy)")
    return ModelFitness(FIT, *args, f"{figures} (minimum {floor:.1%})" if floor > 0 else figures)


def default_choices(models: list[Model], settings: Settings) -> list[Model]:
    """The models a page may pick by default: never an unfit one; measured-fit before unmeasured."""
    verdicts = [(m, model_fitness(m, settings).status) for m in models]
    return [m for m, s in verdicts if s == FIT] + [m for m, s in verdicts if s == UNMEASURED]


def check_batch_use(model: Model, settings: Settings, override_unfit: bool) -> ModelFitness:
    """Refuse a batch with an unfit model unless the caller overrides it explicitly."""
    fitness = model_fitness(model, settings)
    if fitness.unfit and not override_unfit:
        raise Conflict(
            f"model {model.id} is unfit for batch labeling ({fitness.reason}); pass override_unfit "
            "to use it anyway",
            reason="model_unfit",
            fitness=fitness.as_dict(),
        )
    return fitness
