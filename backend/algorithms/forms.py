"""Turning text (HTML form fields, ``--param key=value`` on the command line) into typed parameters.

The schema says each field's type; text that does not fit becomes a per-field problem, reported
together with the schema's own checks so a form can show every message next to its field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TRUE = {"1", "true", "on", "yes"}
FALSE = {"0", "false", "off", "no", ""}


@dataclass(frozen=True)
class FormField:
    """What a page needs to draw one input from a schema property."""

    name: str
    title: str
    description: str
    type: str  # integer | number | boolean | string
    default: Any
    minimum: float | None
    maximum: float | None
    options: list[Any] | None  # enum values: a select

    @property
    def step(self) -> str:
        return "1" if self.type == "integer" else "any"


def form_fields(schema: dict[str, Any]) -> list[FormField]:
    """Inputs in the schema's property order."""
    fields = []
    for name, spec in schema.get("properties", {}).items():
        fields.append(
            FormField(
                name=name,
                title=spec.get("title", name.replace("_", " ").capitalize()),
                description=spec.get("description", ""),
                type=spec.get("type", "string"),
                default=spec.get("default"),
                minimum=spec.get("minimum", spec.get("exclusiveMinimum")),
                maximum=spec.get("maximum", spec.get("exclusiveMaximum")),
                options=spec.get("enum"),
            )
        )
    return fields


def _convert(kind: str, text: str, spec: dict[str, Any]) -> Any:
    text = text.strip()
    if kind == "integer":
        value = float(text)
        if not value.is_integer():
            raise ValueError
        return int(value)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        lowered = text.lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
        raise ValueError
    if kind in ("array", "object"):
        return json.loads(text)
    if "enum" in spec:  # enums of numbers arrive as text too
        for option in spec["enum"]:
            if str(option) == text:
                return option
    return text


def parse_text_params(
    schema: dict[str, Any], values: Mapping[str, str], *, checkboxes: bool = False
) -> tuple[dict[str, Any], list[dict[str, str | None]]]:
    """Typed parameters and per-field problems from text values.

    Empty text means "use the default". With ``checkboxes`` (an HTML form), a boolean field that
    is absent is false, as browsers send nothing for an unticked box.
    """
    properties = schema.get("properties", {})
    params: dict[str, Any] = {}
    problems: list[dict[str, str | None]] = []
    for name, text in values.items():
        spec = properties.get(name)
        if spec is None:
            params[name] = text  # left for the schema to refuse as unknown
            continue
        kind = spec.get("type", "string")
        if text.strip() == "" and kind != "boolean":
            continue
        try:
            params[name] = _convert(kind, text, spec)
        except (ValueError, json.JSONDecodeError):
            wanted = {"integer": "a whole number", "number": "a number", "boolean": "true or false"}
            title = spec.get("title", name)
            problems.append(
                {"field": name, "message": f"{title} must be {wanted.get(kind, kind)}, got {text!r}"}
            )
    if checkboxes:
        for name, spec in properties.items():
            if spec.get("type") == "boolean" and name not in values:
                params[name] = False
    return params, problems
