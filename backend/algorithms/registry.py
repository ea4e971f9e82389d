"""The algorithm registry (what MLExContent did): the built-in algorithms, listed here, plus plugins.

The list below is the one place that names the built-ins; their modules define ``Algorithm``
values and import nothing back from here, so there is no import circle. Plugins (modules named in
``LABELWISE_ALGORITHM_MODULES``, and the tests' algorithms) add theirs with ``register``.
"""

from __future__ import annotations

import functools
import importlib

from backend.algorithms import (
    autoencoder,
    azimuthal,
    azimuthal_classifier,
    brightness,
    classifier,
    contrastive,
    pca,
    vector_classifier,
)
from backend.algorithms.base import KINDS, Algorithm, Params, empty_schema
from backend.errors import NotFound

__all__ = [
    "BUILTINS",
    "KINDS",
    "Algorithm",
    "Params",
    "empty_schema",
    "get_algorithm",
    "list_algorithms",
    "register",
]

BUILTINS: tuple[Algorithm, ...] = (
    autoencoder.AUTOENCODER,
    azimuthal.AZIMUTHAL,
    azimuthal_classifier.AZIMUTHAL_CLASSIFIER,
    brightness.INTENSITY,
    classifier.CLASSIFIER,
    contrastive.CONTRASTIVE,
    pca.PCA,
    vector_classifier.VECTOR_CLASSIFIER,
)

_REGISTRY: dict[str, Algorithm] = {a.key: a for a in BUILTINS}
assert len(_REGISTRY) == len(BUILTINS), "two built-in algorithms share a key"


def register(algorithm: Algorithm) -> Algorithm:
    """Add a plugin algorithm; registering the same key twice is a programming error."""
    if algorithm.key in _REGISTRY and _REGISTRY[algorithm.key] is not algorithm:
        raise ValueError(f"algorithm {algorithm.key!r} is already registered")
    _REGISTRY[algorithm.key] = algorithm
    return algorithm


@functools.cache
def _load_plugins() -> None:
    """Modules named in ``LABELWISE_ALGORITHM_MODULES`` register more algorithms on import."""
    from backend.settings import get_settings

    for name in filter(None, (n.strip() for n in get_settings().algorithm_modules.split(","))):
        importlib.import_module(name)


def list_algorithms(kind: str | None = None) -> list[Algorithm]:
    _load_plugins()
    return [a for a in sorted(_REGISTRY.values(), key=lambda a: a.key) if kind is None or a.kind == kind]


def get_algorithm(key: str) -> Algorithm:
    _load_plugins()
    algorithm = _REGISTRY.get(key)
    if algorithm is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise NotFound(f"unknown algorithm '{key}' (registered: {known})", key=key)
    return algorithm


def suggestion_rank(key: str) -> int:
    """Where the train page ranks an algorithm (higher first), 0 for a plug-in no longer
    registered: the guess of which features to use before labels can judge."""
    try:
        return int(get_algorithm(key).suggestion_rank)
    except NotFound:
        return 0


def offers_intensity(key: str) -> bool:
    """Whether an extractor takes the absolute-intensity option (``intensity_features``): the
    feature report scores the variant with the descriptors appended only for those (the intensity
    extractor's vectors are the descriptors). A plug-in no longer registered: as most do, yes."""
    try:
        return "intensity_features" in (get_algorithm(key).schema.get("properties") or {})
    except NotFound:
        return True
