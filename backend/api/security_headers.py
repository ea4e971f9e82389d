"""Security headers on every answer, pages, API, static files and errors alike (decision 0005).

The pages load their scripts from ``/static`` only; no template holds an inline ``<script>`` or an
``on*=`` handler (``tests/api/test_request_rules.py`` scans them), so the policy can forbid
inline script: an injected ``<img onerror=...>`` does not run even if escaping fails somewhere.
Inline *styles* stay allowed: htmx adds its indicator ``<style>``, templates set widths, and a
style cannot run code.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


async def add_security_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: the headers go on every response start, unless a handler set its own."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        if name not in headers:
            headers[name] = value
