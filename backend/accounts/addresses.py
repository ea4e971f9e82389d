"""Which address a request comes from: the peer, or, behind a proxy we trust, what it forwarded.

``X-Forwarded-For`` is believed only when the peer is one of ``LABELWISE_TRUSTED_PROXIES``
(IP addresses or networks): anyone else could write any address into it. The list is read from the
right, skipping our own proxies, so a client cannot pose as another by putting an address first.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def trusted_networks(setting: str) -> tuple[Network, ...]:
    """The proxies of ``LABELWISE_TRUSTED_PROXIES``; an entry that is no address is an error."""
    networks = []
    for entry in (e.strip() for e in setting.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                from backend.errors import Invalid

                raise Invalid(
                    f"LABELWISE_TRUSTED_PROXIES: '{entry}' is not an IP address or network"
                ) from None
    return tuple(networks)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted: str) -> str:
    """The address to hold a request's sign-in failures against."""
    address = peer or "?"
    networks = trusted_networks(trusted)
    if not networks or not forwarded_for or not _trusted(address, networks):
        return address
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    while hops:
        hop = hops.pop()
        if not _trusted(hop, networks):
            return hop
        address = hop
    return address  # every hop is one of ours: the request started at the last of them
