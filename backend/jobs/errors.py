"""Errors of the job machinery that the general domain errors do not cover."""

from __future__ import annotations

from backend.errors import LabelwiseError


class BrokerUnavailable(LabelwiseError):
    """The message broker (Redis) cannot be reached; nothing was queued."""

    code, status = "BROKER_UNAVAILABLE", 503
