"""Trainable algorithms: a registry of keys, kinds, descriptions and parameter schemas.

Importable without any ML library: schemas are plain dicts; the ML code lives in ``workers/``.
"""

from backend.algorithms.registry import (
    KINDS,
    Algorithm,
    get_algorithm,
    list_algorithms,
    offers_intensity,
    register,
    suggestion_rank,
)
from backend.algorithms.validation import validate_infer_options, validate_parameters

__all__ = [
    "KINDS",
    "Algorithm",
    "get_algorithm",
    "list_algorithms",
    "offers_intensity",
    "register",
    "suggestion_rank",
    "validate_infer_options",
    "validate_parameters",
]
