"""What an algorithm is: a trainable method with a JSON schema of parameters, as plain data.

A built-in algorithm module defines one ``Algorithm`` value; ``backend.algorithms.registry`` lists
them. The web process lists and validates parameters without importing any ML library; the worker
imports ``entry_point`` only when a job runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("feature_extractor", "classifier")

Params = dict[str, Any]


def _no_problems(params: Params) -> list[str]:
    return []


def _one_item(params: Params) -> int:
    return 1


def empty_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {}, "additionalProperties": False}


@dataclass(frozen=True)
class Algorithm:
    """A trainable method.

    ``entry_point`` is the dotted path of a worker module that defines ``train(ctx)`` and
    ``infer(ctx)`` (see ``workers/context.py``). ``check`` holds the rules that JSON schema cannot
    say (relations between fields); it returns one plain sentence per problem. ``min_items`` is the
    fewest (readable, for classifiers labeled) items a training run with these parameters needs.
    """

    key: str
    kind: str
    title: str
    description: str
    schema: dict[str, Any]
    entry_point: str
    check: Callable[[Params], list[str]] = _no_problems
    infer_schema: dict[str, Any] = field(default_factory=empty_schema)
    min_items: Callable[[Params], int] = _one_item
    needs_labels: bool = False
    outputs: tuple[str, ...] = ("vectors",)  # what inference writes: vectors, probabilities, ...
    # Feature extractors the train page suggests training (higher first; 0: not suggested, still
    # available): a self-supervised extractor that needs no labels ranks first; the feature
    # report then compares whatever was trained against the labels.
    suggestion_rank: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"algorithm kind must be one of {KINDS}, got {self.kind!r}")
        if self.schema.get("type") != "object":
            raise ValueError("an algorithm's parameter schema must describe an object")

    def defaults(self) -> Params:
        return {
            name: spec["default"]
            for name, spec in self.schema.get("properties", {}).items()
            if "default" in spec
        }
