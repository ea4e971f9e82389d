"""The embedded default: with no account, one local user, but only on a loopback address."""

from __future__ import annotations

import ipaddress

from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.service import accounts_exist
from backend.errors import Forbidden
from backend.settings import Settings

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]")
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def refuse_unsafe_bind(session: AsyncSession, settings: Settings, host: str) -> None:
    """Serving on a non-loopback address without accounts would give every visitor admin rights."""
    if is_loopback(host) or await accounts_exist(session):
        return
    raise Forbidden(
        f"refusing to serve on {host} without accounts: anyone who can reach it would be admin. "
        "Add an admin first (`labelwise user add NAME --role admin`), or bind to 127.0.0.1."
    )
