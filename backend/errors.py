"""Typed domain errors. ``backend.api.errors`` maps them to HTTP statuses; GraphQL reads ``extensions``."""

from __future__ import annotations

from typing import Any


class LabelwiseError(Exception):
    """Base of every error a domain function raises on purpose."""

    code = "ERROR"
    status = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @property
    def extensions(self) -> dict[str, Any]:
        """Read by graphql-core: every GraphQL error carries a machine-readable code."""
        return {"code": self.code, **self.details}


class NotFound(LabelwiseError):
    code, status = "NOT_FOUND", 404


class Invalid(LabelwiseError):
    code, status = "INVALID", 400


class Forbidden(LabelwiseError):
    code, status = "FORBIDDEN", 403


class Conflict(LabelwiseError):
    code, status = "CONFLICT", 409


class TooLarge(LabelwiseError):
    code, status = "TOO_LARGE", 413


class SourceUnavailable(LabelwiseError):
    code, status = "SOURCE_UNAVAILABLE", 502


class Unreadable(LabelwiseError):
    """A file exists but cannot be decoded as an image."""

    code, status = "UNREADABLE", 422
