"""Random secrets for API tokens and sign-in sessions, stored only as their SHA-256.

A token is 32 random bytes; its SHA-256 cannot be reversed and needs no slow KDF (there is nothing
to guess), and it lets the server find the row by an indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "lw_"  # makes a leaked Labelwise token easy to recognise (secret scanners, logs)


def new_secret(prefix: str = TOKEN_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    """What a token list may show: enough to tell tokens apart, too little to use."""
    return secret[: len(TOKEN_PREFIX) + 5]
