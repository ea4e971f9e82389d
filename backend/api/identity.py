"""Who is tagging. With accounts, the signed-in user (never free text); while no account exists,
the ``X-Labelwise-Tagger`` header or the ``labelwise_tagger`` cookie, else the server's configured
tagger (``LABELWISE_TAGGER``)."""

from __future__ import annotations

import re

from litestar.connection import ASGIConnection

from backend.errors import Invalid
from backend.settings import Settings

TAGGER_HEADER = "x-labelwise-tagger"
TAGGER_COOKIE = "labelwise_tagger"
_TAGGER = re.compile(r"^[\w.@ -]{1,100}$")


def clean_tagger(name: str) -> str:
    name = name.strip()
    if not _TAGGER.match(name):
        raise Invalid("a tagger name has 1-100 letters, digits, spaces or . @ - _")
    return name


def tagger_for(connection: ASGIConnection, settings: Settings) -> str:
    from backend.api.access import accounts_on, caller_of

    caller = caller_of(connection)
    if caller is not None and not caller.local:
        return caller.name
    if accounts_on(connection):
        return ""  # nobody signed in (an error page before the guard): no name, and no event takes ""
    raw = connection.headers.get(TAGGER_HEADER) or connection.cookies.get(TAGGER_COOKIE)
    return clean_tagger(raw) if raw else settings.tagger
