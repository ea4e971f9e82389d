"""The malloc settings that undo TensorFlow's page-fault storm (workers/memory.py)."""

from __future__ import annotations

import platform

import pytest

from workers import memory


def test_glibc_takes_the_thresholds():
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt thresholds are glibc's")
    assert memory.keep_freed_memory() is True


def test_without_a_c_library_it_does_nothing(monkeypatch):
    monkeypatch.setattr(memory, "_mallopt", lambda: None)
    assert memory.keep_freed_memory() is False


def test_every_training_epoch_restores_them(monkeypatch):
    from workers.algorithms import classifier_data

    calls: list[int] = []
    monkeypatch.setattr(classifier_data, "keep_freed_memory", lambda: calls.append(1) or True)

    class Ctx:
        def check_canceled(self) -> None: ...

    report = classifier_data.callback_class()(Ctx(), steps=3, epochs=2)
    for _ in range(2):
        for batch in range(3):
            report.on_train_batch_begin(batch)
    assert len(calls) == 2
