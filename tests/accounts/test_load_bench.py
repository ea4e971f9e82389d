"""The load benchmark's scenario at a small size: concurrent taggers and a page reader, nothing lost.

``bench.taggers`` raises SystemExit when the materialised labels differ from the replayed events
or an accepted request is not exactly one event; here it runs small, on the suite's database kind.
"""

from __future__ import annotations

from bench import taggers
from tests.helpers.database import _backend


def test_the_load_scenario_loses_nothing(capsys):
    taggers.main(
        ["--taggers", "4", "--events", "12", "--items", "8", "--dataset-size", "40", "--database", _backend()]
    )
    out = capsys.readouterr().out
    assert "labels == replayed events: True; events per tagger exact: True" in out
    assert "4 taggers x 12 events x 8 items: 48 events" in out
