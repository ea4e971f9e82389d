"""Who is tagging. With accounts, the signed-in user (never free text); while no account exists,
the ``X-Labelwise-Tagger`` header or the ``labelwise_tagger`` cookie, else the server's configured
tagger (``LABELWISE_TAGGER``)."""

from __future__ import annotations

from litestar.connection import ASGIConnection

from backend.accounts.names import clean_tagger
from backend.api.access import accounts_on, caller_of
from backend.settings import Settings

TAGGER_HEADER = "x-labelwise-tagger"
TAGGER_COOKIE = "labelwise_tagger"
__all__ = ["TAGGER_COOKIE", "TAGGER_HEADER", "clean_tagger", "tagger_for"]


def tagger_for(connection: ASGIConnection, settings: Settings) -> str:
    caller = caller_of(connection)
    if caller is not None and not caller.local:
        return caller.name
    if accounts_on(connection):
        return ""  # nobody signed in (an error page before the guard): no name, and no event takes ""
    raw = connection.headers.get(TAGGER_HEADER) or connection.cookies.get(TAGGER_COOKIE)
    return clean_tagger(raw) if raw else settings.tagger
