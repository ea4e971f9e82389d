"""Cross-site request forgery protection for the pages (the JSON APIs are left to their own auth).

The secret lives in a file in the data directory so that every process of one deployment (several
web workers, restarts) accepts the tokens the others handed out.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from litestar.config.csrf import CSRFConfig

from backend.settings import Settings

CSRF_HEADER = "x-csrftoken"
CSRF_COOKIE = "labelwise_csrf"
# JSON APIs: a browser cannot send them cross-site without CORS preflight, and scripts call them.
CSRF_EXCLUDE = ["^/api/", "^/graphql", "^/static/"]


def csrf_secret(data_dir: Path) -> str:
    """The deployment's secret, made on first use (readable by the owner only)."""
    path = data_dir / ".csrf-secret"
    try:
        secret = path.read_text().strip()
        if len(secret) >= 32:
            return secret
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    tmp = path.with_name(f".csrf-secret.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    try:
        os.link(tmp, path)  # first writer wins; a concurrent process reads the winner's secret
    except FileExistsError:
        secret = path.read_text().strip()
    finally:
        tmp.unlink(missing_ok=True)
    return secret


def csrf_config(settings: Settings) -> CSRFConfig:
    return CSRFConfig(
        secret=csrf_secret(settings.data_dir),
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_samesite="strict",
        exclude=CSRF_EXCLUDE,
    )
