"""The `labelwise` command line (the `labelwise` entry point is ``backend.cli:main``).

``commands.py`` holds the group and the server, dataset and label commands; each other module adds a
family of commands (``jobs``, ``guided``, ``revoke``, ``features``, ``accounts``, ``database``: ``db backup``
and ``db copy``); ``common.py``
holds what they share. Modules import ``common`` and never ``commands``, so there is no
import circle.
"""

from __future__ import annotations

from typing import Any

__all__ = ["main"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `python -m backend.cli.jobs` runs that module only once.
    if name == "main":
        from backend.cli.commands import main

        return main
    raise AttributeError(name)
