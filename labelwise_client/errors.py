"""The one exception every client call raises, carrying what the server said."""

from __future__ import annotations

from typing import Any

import httpx


class LabelwiseError(Exception):
    """A refused request, a failed job, or a server that could not be reached in time.

    ``code`` is the server's machine-readable code (``NOT_FOUND``, ``INVALID``, ``UNAUTHENTICATED``,
    ``FORBIDDEN``, ...) or one of the client's own: ``TIMEOUT``, ``UNREACHABLE``, ``JOB_FAILED``,
    ``JOB_CANCELED``, ``BAD_RESPONSE``. ``status`` is the HTTP status, None when no answer came.
    """

    def __init__(
        self, code: str, message: str, *, status: int | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}" if status is None else f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}

    @classmethod
    def from_response(cls, response: httpx.Response) -> LabelwiseError:
        """The server's RFC 9457 problem (``code``, ``detail``, ``details``), else its text."""
        try:
            problem = response.json()
            legacy = problem.get("error") or {}  # the body before problem+json: {"error": {...}}
            code = problem.get("code") or legacy["code"]
            message = problem.get("detail") or legacy.get("message") or problem.get("title") or ""
            details = problem.get("details") or legacy.get("details") or {}
            return cls(str(code), str(message), status=response.status_code, details=details)
        except (ValueError, KeyError, TypeError, AttributeError):
            text = response.text[:300] or response.reason_phrase
            return cls("HTTP_ERROR", text, status=response.status_code)

    @classmethod
    def from_transport(cls, exc: httpx.TransportError, what: str) -> LabelwiseError:
        """No answer: a timeout (say which) or a connection that could not be made."""
        if isinstance(exc, httpx.TimeoutException):
            return cls("TIMEOUT", f"{what}: no answer in time ({type(exc).__name__})")
        return cls("UNREACHABLE", f"{what}: {type(exc).__name__}: {exc}")
