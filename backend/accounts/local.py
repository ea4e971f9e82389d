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


def host_name(host_header: str | None) -> str:
    """The name in a Host header, without its port (``[::1]:8000`` -> ``::1``)."""
    host = (host_header or "").strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_host(host_header: str | None, settings: Settings) -> bool:
    """Without accounts, a request must name this computer: a loopback name or address, a
    single-label name (``myhost``: resolved locally, no attacker can register one), the bound
    host, or one of ``LABELWISE_ALLOWED_HOSTS``. A DNS-rebinding page (evil.example resolving to
    127.0.0.1) reaches the loopback socket, but its requests carry Host: evil.example."""
    name = host_name(host_header)
    extra = {h.strip().lower() for h in settings.allowed_hosts.split(",") if h.strip()}
    single_label = bool(name) and "." not in name and ":" not in name
    return is_loopback(name) or single_label or name in extra or name == settings.host.strip("[]").lower()


async def refuse_unsafe_bind(session: AsyncSession, settings: Settings, host: str) -> None:
    """Serving on a non-loopback address without accounts would give every visitor admin rights."""
    if is_loopback(host) or await accounts_exist(session):
        return
    raise Forbidden(
        f"refusing to serve on {host} without accounts: anyone who can reach it would be admin. "
        "Add an admin first (`labelwise user add NAME --role admin`), or bind to 127.0.0.1."
    )
