"""Checking parameters against an algorithm's schema and rules, before any job is queued."""

from __future__ import annotations

import copy
import math
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from backend.algorithms.registry import Params, get_algorithm
from backend.errors import Invalid


def _field_of(error: ValidationError) -> str | None:
    if error.validator == "additionalProperties" and not error.path:
        return None
    if error.validator == "required" and not error.path:
        return None
    return ".".join(str(p) for p in error.path) or None


def _message(error: ValidationError, schema: dict[str, Any]) -> str:
    """A sentence a person can act on, naming the field and its allowed values."""
    field = _field_of(error)
    spec = schema.get("properties", {}).get(field, {}) if field else {}
    label = spec.get("title", field) if field else None
    value = error.instance
    match error.validator:
        case "type":
            wanted = {"integer": "a whole number", "number": "a number", "boolean": "true or false"}.get(
                str(error.validator_value), f"of type {error.validator_value}"
            )
            return f"{label} must be {wanted}, got {value!r}"
        case "minimum":
            return f"{label} must be at least {error.validator_value}, got {value}"
        case "maximum":
            return f"{label} must be at most {error.validator_value}, got {value}"
        case "exclusiveMinimum":
            return f"{label} must be greater than {error.validator_value}, got {value}"
        case "exclusiveMaximum":
            return f"{label} must be less than {error.validator_value}, got {value}"
        case "enum":
            options = ", ".join(str(v) for v in error.validator_value)
            return f"{label} must be one of {options}, got {value!r}"
        case "additionalProperties":
            extra = sorted(set(value) - set(schema.get("properties", {})))
            return f"unknown parameter(s): {', '.join(extra)}"
    return f"{label}: {error.message}" if label else error.message


def schema_problems(schema: dict[str, Any], params: Params) -> list[dict[str, str | None]]:
    """Every schema violation as {field, message}; field is None for problems of the whole set."""
    properties = schema.get("properties", {})
    # NaN passes every bound (each comparison with it is false) and infinity passes one-sided ones:
    # such a value would reach the optimizer (a job failing later, or weights of NaN).
    problems: list[dict[str, str | None]] = [
        {
            "field": name,
            "message": f"{properties.get(name, {}).get('title', name)} must be a finite number, got {value}",
        }
        for name, value in params.items()
        if isinstance(value, float) and not math.isfinite(value)
    ]
    not_finite = {p["field"] for p in problems}
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(params), key=lambda e: (list(e.path), e.validator))
    return problems + [
        {"field": _field_of(e), "message": _message(e, schema)}
        for e in errors
        if _field_of(e) not in not_finite
    ]


def with_defaults(schema: dict[str, Any], params: Params | None) -> Params:
    filled = {
        name: copy.deepcopy(spec["default"])
        for name, spec in schema.get("properties", {}).items()
        if "default" in spec
    }
    filled.update(params or {})
    return filled


def check_against(schema: dict[str, Any], params: Params | None, rules: Any = None, what: str = "") -> Params:
    """Fill defaults, validate, apply ``rules``; raise ``Invalid`` listing every problem at once."""
    if params is not None and not isinstance(params, dict):
        raise Invalid("parameters must be an object of name: value")
    filled = with_defaults(schema, params)
    problems = schema_problems(schema, filled)
    if not problems:
        for name, spec in schema.get("properties", {}).items():  # 5.0 is a valid integer: make it 5
            if spec.get("type") == "integer" and isinstance(filled.get(name), float):
                filled[name] = int(filled[name])
        if rules is not None:
            problems = [{"field": None, "message": m} for m in rules(filled)]
    if problems:
        summary = "; ".join(p["message"] or "" for p in problems)
        raise Invalid(f"invalid parameters{what}: {summary}", errors=problems)
    return filled


def validate_parameters(key: str, params: Params | None) -> Params:
    """The parameters of a training run of algorithm ``key``, defaults filled in.

    Raises ``Invalid`` whose ``details["errors"]`` lists every problem as {field, message}.
    Cross-field rules run only once each field is valid on its own, so their messages never
    talk about values that are already wrong.
    """
    algorithm = get_algorithm(key)
    return check_against(algorithm.schema, params, algorithm.check, f" for {key}")


def validate_infer_options(key: str, options: Params | None) -> Params:
    algorithm = get_algorithm(key)
    return check_against(algorithm.infer_schema, options, None, f" for {key} inference")
