"""What a viewer may see of the server: paths relative to a data root, one-line errors, no tracebacks.

Labelers and above (and the local user, and the CLI) see everything as it is: they act on jobs
and items and need the whole story. A viewer only reads: the server's absolute paths and job
tracebacks tell it about the machine (user names, mounts, library versions) and help it with
nothing. So for a viewer, every door (REST, GraphQL, pages) passes these through here:

- a path under a data root reads from the root's own folder name (``/srv/xray/run1/a.png`` ->
  ``xray/run1/a.png``); the data directory reads ``data-dir``; any other absolute path is cut to
  its last component (``…/a.png``);
- a job's error is its first line, paths so cut; its traceback is withheld (None);
- a job's log lines are scrubbed alike, one line each.

See docs/decisions/0007-hardening-provenance-exports-limits.md.
"""

from __future__ import annotations

import re

from backend.accounts.roles import LABELER, allows
from backend.settings import Settings

_ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:[^\s/'\"<>|:]+/)+([^\s/'\"<>|:]*)")
DATA_DIR_NAME = "data-dir"


def sees_internals(role: str | None) -> bool:
    """Whether a caller of ``role`` sees paths and tracebacks as they are (None: not a web caller)."""
    return role is None or allows(role, LABELER)


def _prefixes(settings: Settings) -> list[tuple[str, str]]:
    """(absolute prefix, what it reads as), longest first so nested roots win."""
    pairs = [(str(root), root.name or "root") for root in settings.roots]
    pairs.append((str(settings.data_dir), DATA_DIR_NAME))
    return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)


def public_text(text: str, settings: Settings) -> str:
    """``text`` with the server's absolute paths made relative (roots) or cut to their last part."""
    for prefix, name in _prefixes(settings):
        if prefix and prefix != "/":
            text = re.sub(re.escape(prefix) + r"(?![\w.-])", name, text)
    return _ABSOLUTE.sub(lambda match: "…/" + match.group(1), text)


def public_location(location: str, settings: Settings) -> str:
    """An item's location as a viewer sees it (Tiled URIs pass: they name no server path)."""
    if not location.startswith("/"):
        return location
    return public_text(location, settings)


def public_error(error: str | None, settings: Settings) -> str | None:
    """A job's or item's error in one line, without the server's paths."""
    if not error:
        return error
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    if not lines:
        return ""
    # A traceback's first line says nothing; its last names the exception.
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return public_text(line, settings)
