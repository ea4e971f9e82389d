"""Where a Tiled node is: its URI parsed to a canonical, secret-free form, and whether its host is allowed.

URIs: ``tiled+http://host:port/path/to/node`` (or ``tiled+https://``, or plain ``http(s)://``).
A URL copied from Tiled itself (``.../api/v1/metadata/path``) is accepted too, and keeps any
prefix the server is mounted under. Only hosts in ``LABELWISE_TILED_HOSTS`` are ever asked
(``check_tiled_host``; docs/decisions/0006-tiled-hosts-and-secrets.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

from backend.errors import Forbidden, Invalid

API = "/api/v1"
_API_ROUTES = ("metadata/", "search/", "array/full/", "array/block/", "node/full/", "container/full/")

__all__ = ["API", "TiledLocation", "check_tiled_host", "is_tiled_uri", "parse_tiled_uri"]


def is_tiled_uri(spec: str) -> bool:
    """Whether what a user typed names a Tiled node rather than a folder."""
    return spec.strip().lower().startswith(("tiled+http://", "tiled+https://", "http://", "https://"))


@dataclass(frozen=True, slots=True)
class TiledLocation:
    """A parsed Tiled URI: the server's API root and the node path (segments, unquoted)."""

    scheme: str
    netloc: str
    prefix: str  # where the server is mounted, '' unless the URI showed '/api/v1/'
    node: tuple[str, ...]
    explicit_api: bool

    @property
    def api_root(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.prefix}{API}"

    @property
    def uri(self) -> str:
        """The canonical, secret-free form stored in ``Source.uri``."""
        path = "/".join(quote(seg, safe="") for seg in self.node)
        if self.explicit_api:
            return f"tiled+{self.scheme}://{self.netloc}{self.prefix}{API}/metadata/{path}"
        return (
            f"tiled+{self.scheme}://{self.netloc}/{path}" if path else f"tiled+{self.scheme}://{self.netloc}"
        )

    def child(self, rel: str) -> TiledLocation:
        extra = tuple(seg for seg in rel.split("/") if seg)
        return TiledLocation(self.scheme, self.netloc, self.prefix, self.node + extra, self.explicit_api)


def parse_tiled_uri(spec: str) -> tuple[TiledLocation, str | None]:
    """Parse a Tiled URI; an ``api_key`` query parameter is taken out and returned apart."""
    raw = (spec or "").strip()
    if raw.lower().startswith("tiled+"):
        raw = raw[len("tiled+") :]
    try:
        parts = urlsplit(raw)
    except ValueError:
        raise Invalid("not a valid Tiled URI (expected tiled+http://host:port/path)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("not a valid Tiled URI (expected tiled+http://host:port/path)")
    if parts.username or parts.password:
        raise Invalid("put credentials in the API key field, not in the Tiled URI")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise Invalid(f"the Tiled URI has an invalid port: {parts.netloc}") from None
    keys = parse_qs(parts.query).get("api_key")
    path = parts.path
    prefix, explicit = "", False
    if f"{API}/" in path + "/":
        prefix, _, rest = (path + ("/" if path.endswith(API) else "")).partition(f"{API}/")
        prefix = prefix.rstrip("/")
        explicit = True
        for route in _API_ROUTES:
            if rest.startswith(route):
                rest = rest[len(route) :]
                break
        path = rest
    node = tuple(unquote(seg) for seg in path.split("/") if seg)
    if any(seg in (".", "..") for seg in node):
        raise Invalid("'.' and '..' are not allowed in Tiled node paths")
    location = TiledLocation(parts.scheme, parts.netloc.lower(), prefix, node, explicit)
    return location, (keys[0] if keys else None)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def check_tiled_host(where: TiledLocation, allowed: str) -> None:
    """Refuse a Tiled server whose host (and port) is not in the allowlist (``LABELWISE_TILED_HOSTS``).

    Entries are ``host`` (any port) or ``host:port``, compared as written (lower case), so
    ``127.1`` or a decimal IP does not pass for ``127.0.0.1``; ``*`` allows every host.
    """
    parts = urlsplit(f"{where.scheme}://{where.netloc}")
    host, port = (parts.hostname or "").lower(), parts.port or _default_port(where.scheme)
    for entry in (e.strip().lower() for e in allowed.split(",")):
        if not entry:
            continue
        if entry == "*":
            return
        try:
            listed = urlsplit(f"//{entry}")
            if listed.hostname == host and listed.port in (None, port):
                return
        except ValueError:
            continue  # a malformed entry allows nothing
    raise Forbidden(
        f"Tiled source '{where.uri}' is refused: its host '{where.netloc}' is not in "
        "LABELWISE_TILED_HOSTS (the Tiled servers an admin allowed)",
        source=where.uri,
    )
