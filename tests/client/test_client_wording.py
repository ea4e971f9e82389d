"""The client's docstrings say what the server says: items changed "since you looked (by someone
else, or in another tab)", not only by someone else."""

from __future__ import annotations

import re

from backend.api.rest.guided import ProbabilityAppliedOut
from labelwise_client import Client


def _flat(text: str | None) -> str:
    return " ".join((text or "").split())


def test_apply_probability_names_changes_as_the_server_does():
    server = _flat(ProbabilityAppliedOut.__doc__)
    found = re.search(r"\(by someone else[^)]*\)", server)
    assert found, server
    client = _flat(Client.apply_probability.__doc__)
    assert found.group(0).strip("()") in client, client
    assert "changed by someone else after" not in client
