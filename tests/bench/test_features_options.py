"""bench features: the options that decide what is trained and scored."""

from __future__ import annotations

from bench.features import parse


def test_variants_are_collected_and_default_to_none() -> None:
    assert parse([]).variant == []
    args = parse(["--variant", "temperature=0.1", "--variant", "base_channels=32,depth=4"])
    assert args.variant == ["temperature=0.1", "base_channels=32,depth=4"]


def test_the_report_choice_takes_the_appended_column_on_a_clear_lead_beside_small_classes() -> None:
    """Labels where only the appended column tells the two big classes apart; a class of two
    items and one of a single item (left out, as the report leaves it out) ride along."""
    import numpy as np

    from bench.features import report_choice

    rng = np.random.default_rng(0)
    labels = np.asarray(["a"] * 40 + ["b"] * 40 + ["c"] * 2 + ["d"])
    plain = rng.normal(size=(len(labels), 6))
    column = np.where(labels == "a", -3.0, 3.0)[:, None] + rng.normal(0, 0.3, (len(labels), 1))
    choice = report_choice(plain, np.concatenate([plain, column], axis=1), labels, most=2000)
    assert choice["chosen"] and choice["with"] > 0.9 > 0.7 > choice["without"]
