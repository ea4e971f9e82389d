"""The page an item was opened from (a batch page's tile): the item view's "back" returns there.

The address travels in the item view's ``back`` query parameter, so it is the person's to write:
only a relative address of the item's own dataset pages is followed (no open redirect); anything
else is dropped and the view goes back to the label page as before."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from litestar import Request

MAX_LENGTH = 2000


def page_address(request: Request) -> str | None:
    """The address (path and query) of the page the person is on, for a link that comes back to
    it: a GET's own (a whole page, or the view an HTMX pager or filter pushes to the address bar),
    else the page an HTMX request was sent from (a batch labeled in place answers with new tiles);
    None for another POST (its own address is no page to go back to)."""
    path, query = request.url.path, request.url.query
    if request.method != "GET":
        current = request.headers.get("hx-current-url")
        if not current:
            return None
        sent_from = urlsplit(current)
        path, query = sent_from.path, sent_from.query
    return path + (f"?{query}" if query else "")


def back_address(raw: object, dataset_id: int) -> str | None:
    """``raw`` as a relative address of one of this dataset's pages (path and query), or None: an
    absolute URL, ``//host``, a scheme, a backslash, control characters or dot segments are refused
    (browsers read ``/\\host`` and ``/%09/host`` tricks as other sites)."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_LENGTH:
        return None
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in raw) or "\\" in raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or raw.startswith("//"):
        return None
    if not parts.path.startswith(f"/datasets/{dataset_id}/"):
        return None
    if any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
