"""One rule for the names of people: a tagger name, and a user name (a user name is a tagger id)."""

from __future__ import annotations

import re

from backend.errors import Invalid

_TAGGER = re.compile(r"^[\w.@ -]{1,100}$")


def clean_tagger(name: str) -> str:
    """The name without surrounding spaces; refused unless 1-100 letters, digits, spaces or . @ - _."""
    name = name.strip()
    if not _TAGGER.match(name):
        raise Invalid("a tagger name has 1-100 letters, digits, spaces or . @ - _")
    return name
