"""The read model of an algorithm: what REST and GraphQL show of one (GraphQL alone used to show
its ``defaults``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.algorithms.registry import Algorithm


@dataclass(frozen=True, kw_only=True)
class AlgorithmView:
    """A trainable algorithm; ``parameters_schema`` is the JSON schema its parameters must meet,
    ``defaults`` the parameters used when none are given."""

    key: str
    kind: str
    title: str
    description: str
    parameters_schema: dict[str, Any]
    infer_schema: dict[str, Any]
    defaults: dict[str, Any]
    needs_labels: bool
    outputs: list[str]

    @classmethod
    def of(cls, algorithm: Algorithm) -> AlgorithmView:
        return cls(
            key=algorithm.key,
            kind=algorithm.kind,
            title=algorithm.title,
            description=algorithm.description,
            parameters_schema=algorithm.schema,
            infer_schema=algorithm.infer_schema,
            defaults=algorithm.defaults(),
            needs_labels=algorithm.needs_labels,
            outputs=list(algorithm.outputs),
        )
