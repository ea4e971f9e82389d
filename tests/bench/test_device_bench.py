"""bench device: the PyTorch extractors' own jobs run through its stand-in context, on the CPU
here (CUDA where a machine has one), and say so."""

from __future__ import annotations

import pytest

from bench.device import main

pytestmark = pytest.mark.ml


def test_both_extractors_train_and_infer_on_the_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--devices", "cpu", "--count", "12", "--size", "32", "--epochs", "1"])
    lines = capsys.readouterr().out.splitlines()
    for algorithm, length in (("contrastive", 512), ("autoencoder", 128)):
        (line,) = [row for row in lines if row.strip().startswith(algorithm)]
        assert f"vectors (12, {length}), finite True" in line, line
        assert "x the CPU" not in line  # no ratio without a second device
