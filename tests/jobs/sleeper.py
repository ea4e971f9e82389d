"""A test algorithm that takes as long as it is told: a real registry entry and worker module.

It lets tests catch a job while it runs (cancel it, kill its worker, stop the server under it)
without depending on how fast the machine trains PCA. Registered by importing this module, in
the test process directly and in worker processes through ``LABELWISE_ALGORITHM_MODULES``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from backend.algorithms.registry import Algorithm, register

SLEEPER = register(
    Algorithm(
        key="test-sleeper",
        kind="feature_extractor",
        title="Sleeper (tests)",
        description="Sleeps through its steps; fails when told to.",
        schema={
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "steps": {"type": "integer", "default": 5, "minimum": 1, "maximum": 10000},
                "step_seconds": {"type": "number", "default": 0.1, "minimum": 0, "maximum": 60},
                "fail_at_step": {"type": "integer", "default": 0, "minimum": 0},
                # stuck in one call at step 1 (no cancel check) until this file exists (60 s at most)
                "hold_until": {"type": "string", "default": ""},
            },
        },
        entry_point="tests.jobs.sleeper",
    )
)


def _wait_for_file(path: Path, most: float) -> None:
    """A call that does not return while a test holds it: no progress, no cancel check."""
    deadline = time.monotonic() + most
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def train(ctx) -> None:  # type: ignore[no-untyped-def]
    steps = ctx.params["steps"]
    for step in range(1, steps + 1):
        ctx.check_canceled()
        time.sleep(ctx.params["step_seconds"])
        if ctx.params["hold_until"] and step == 1:
            _wait_for_file(Path(ctx.params["hold_until"]), 60.0)
        (ctx.artifact_dir / f"step-{step}.txt").write_text(str(step))  # partial output on purpose
        if step == ctx.params["fail_at_step"]:
            raise RuntimeError(f"told to fail at step {step}")
        ctx.metrics(step, {"train_loss": 1.0 / step, "val_loss": 1.5 / step, "accuracy": step / steps})
        ctx.progress(step, steps, epoch=step, epochs=steps)
    (ctx.artifact_dir / "model.txt").write_text("slept well")


def infer(ctx) -> None:  # type: ignore[no-untyped-def]
    ids = [ref.item_id for ref in ctx.items]
    ctx.write_vectors(ids, np.ones((len(ids), 3), np.float32))
