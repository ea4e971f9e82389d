"""bench features: the options that decide what is trained and scored."""

from __future__ import annotations

from bench.features import parse


def test_variants_are_collected_and_default_to_none() -> None:
    assert parse([]).variant == []
    args = parse(["--variant", "temperature=0.1", "--variant", "base_channels=32,depth=4"])
    assert args.variant == ["temperature=0.1", "base_channels=32,depth=4"]
