"""Confident learning runs inside the job's own process: cleanlab forks a multiprocessing pool
by default (one process per core), and a fork from a worker with threads can hang the child on a
lock it inherited, leaving the training job "running" for good."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from workers.algorithms.quality import write_label_issues


def test_label_issues_are_found_without_forking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("cleanlab forked a process pool")

    monkeypatch.setattr(multiprocessing, "Pool", no_pool)
    monkeypatch.setattr(multiprocessing, "cpu_count", lambda: 4)  # a pool would be used on any machine
    rng = np.random.default_rng(0)
    given = np.repeat(np.arange(3), 40)
    probabilities = np.full((120, 3), 0.05)
    probabilities[np.arange(120), given] = 0.9
    flipped = rng.choice(120, 6, replace=False)  # six labels the probabilities disagree with
    probabilities[flipped] = np.roll(probabilities[flipped], 1, axis=1)
    found = write_label_issues(tmp_path, np.arange(120), given, probabilities, np.asarray([10, 11, 12]))
    stored = np.load(tmp_path / "label_issues.npz")
    assert found == 6 and set(np.nonzero(stored["is_issue"])[0]) == set(flipped)
