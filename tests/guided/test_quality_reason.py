"""The fitness verdict's reason, as the probability page and the models page show it: the number
of held-out items a figure rests on, and a minimum only where one is set."""

from __future__ import annotations

from backend.guided.quality import FIT, UNFIT, model_fitness
from backend.settings import Settings
from backend.storage.job_tables import Model


def _classifier(accuracy: float, items: int) -> Model:
    quality = {"accuracy": accuracy, "baseline_accuracy": 0.194, "baseline_class": "d1", "items": items}
    return Model(name="c", algorithm="vector_classifier", kind="classifier", summary={"quality": quality})


def test_the_reason_names_the_held_out_items_and_no_minimum_of_zero(settings: Settings) -> None:
    verdict = model_fitness(_classifier(1.0, 16), settings.model_copy(update={"min_model_accuracy": 0.0}))
    assert verdict.status == FIT
    assert verdict.reason == "held-out accuracy 100.0% on 16 items vs. majority-class baseline 19.4%"


def test_a_minimum_that_is_set_is_named_and_applied(settings: Settings) -> None:
    strict = settings.model_copy(update={"min_model_accuracy": 0.5})
    assert model_fitness(_classifier(0.9, 40), strict).reason.endswith("(minimum 50.0%)")
    below = model_fitness(_classifier(0.4, 40), strict)
    assert below.status == UNFIT and "below the minimum of 50.0%" in below.reason
