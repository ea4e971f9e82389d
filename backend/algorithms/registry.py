"""The algorithm registry (what MLExContent did): trainable methods with a JSON schema of parameters.

A registry entry is plain data: the web process lists and validates parameters without importing
any ML library. The worker imports ``entry_point`` only when a job runs.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend.errors import NotFound

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


_REGISTRY: dict[str, Algorithm] = {}


def register(algorithm: Algorithm) -> Algorithm:
    """Add an algorithm; registering the same key twice is a programming error."""
    if algorithm.key in _REGISTRY and _REGISTRY[algorithm.key] is not algorithm:
        raise ValueError(f"algorithm {algorithm.key!r} is already registered")
    _REGISTRY[algorithm.key] = algorithm
    return algorithm


def _load_builtins() -> None:
    # Each built-in algorithm module registers itself on import; one line per algorithm.
    from backend.algorithms import (
        autoencoder,  # noqa: F401
        azimuthal,  # noqa: F401
        azimuthal_classifier,  # noqa: F401
        classifier,  # noqa: F401
        contrastive,  # noqa: F401
        pca,  # noqa: F401
        vector_classifier,  # noqa: F401
    )

    _load_plugins()


@functools.cache
def _load_plugins() -> None:
    """Modules named in ``LABELWISE_ALGORITHM_MODULES`` register more algorithms on import."""
    from backend.settings import get_settings

    for name in filter(None, (n.strip() for n in get_settings().algorithm_modules.split(","))):
        importlib.import_module(name)


def list_algorithms(kind: str | None = None) -> list[Algorithm]:
    _load_builtins()
    return [a for a in sorted(_REGISTRY.values(), key=lambda a: a.key) if kind is None or a.kind == kind]


def get_algorithm(key: str) -> Algorithm:
    _load_builtins()
    algorithm = _REGISTRY.get(key)
    if algorithm is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise NotFound(f"unknown algorithm '{key}' (registered: {known})", key=key)
    return algorithm
