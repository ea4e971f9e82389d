"""bench guardrails: its tally counts what "f" would leave out, and a tiny demo run prints both rules."""

from __future__ import annotations

import numpy as np

from backend.guided.guardrails import BatchFlags
from bench import guardrails


def test_the_tally_counts_flags_on_wrong_and_right_items_and_what_f_leaves():
    truth = np.array([0, 0, 0, 1, 1])
    batch = guardrails.Batch("similarity", np.arange(5), [0] * 5)  # items 3 and 4 are wrong
    flags = BatchFlags(flags={3: ["far from the batch"], 1: ["2 of its 5 nearest labeled items ..."]})
    tally = guardrails.Tally()
    tally.add(batch, truth, flags)
    assert (tally.items, tally.wrong, tally.flagged_wrong, tally.flagged_right) == (5, 2, 1, 1)
    assert tally.reasons == {"far": [1, 0], "neighbours": [0, 1]}
    fields = tally.line("x").split()
    # wrong 0.4; 2 flags, precision 0.5, recall 0.5; with f: 1 wrong of 3 left; 1 right lost per catch
    assert fields[1:9] == ["5", "0.400", "2", "0.500", "0.500", "0.333", "0.83", "1.00"]


def test_a_small_demo_run_judges_the_batches_with_both_rules(capsys):
    guardrails.main(["--demo-count", "90", "--shares", "0.1", "--seeds", "1", "--explorers", "2"])
    out = capsys.readouterr().out
    for key in ("similarity, before", "similarity, now", "all, before", "all, now"):
        assert key in out, out
