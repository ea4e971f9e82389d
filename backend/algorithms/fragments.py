"""Schema fragments that several algorithms share word for word (one definition, one wording)."""

from __future__ import annotations

from typing import Any


def percentile_properties() -> dict[str, dict[str, Any]]:
    """The display percentiles an image is scaled by before training (a fresh copy each call)."""
    return {
        "percentile_low": {
            "type": "number",
            "title": "Low percentile",
            "description": "Percentile mapped to 0 after scaling.",
            "default": 1.0,
            "minimum": 0,
            "maximum": 100,
        },
        "percentile_high": {
            "type": "number",
            "title": "High percentile",
            "description": "Percentile mapped to 1 after scaling.",
            "default": 99.0,
            "minimum": 0,
            "maximum": 100,
        },
    }
