"""Confinement of folder sources to the configured data roots."""

from __future__ import annotations

from pathlib import Path, PurePath

from backend.errors import Forbidden, Invalid, NotFound


def is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def resolve_in_roots(raw: str, roots: list[Path]) -> Path:
    """Resolve a folder a user named, refusing anything that is or leads outside every data root.

    Relative paths are taken relative to each root in turn. ``..`` is refused outright, and the
    fully resolved path (symlinks followed) must still lie inside a root.
    """
    if not raw or "\x00" in raw:
        raise Invalid("a folder path is required")
    given = PurePath(raw)
    if ".." in given.parts:
        raise Forbidden(f"'..' is not allowed in folder paths: {raw}")
    candidates = [Path(raw).expanduser()] if given.is_absolute() else [r / given for r in roots]
    for candidate in candidates:
        try:
            resolved = candidate.resolve()
            candidate.exists()  # a name the file system refuses (too long, ...) fails here
        except (OSError, ValueError) as exc:
            raise Invalid(
                f"'{raw[:200]}' is not a usable folder path ({getattr(exc, 'strerror', None) or exc})"
            ) from None
        if not any(is_within(resolved, root) for root in roots):
            if candidate.exists() and any(is_within(candidate.absolute(), r) for r in roots):
                raise Forbidden(f"'{raw}' is a link that leaves the data roots")
            continue
        if not resolved.exists():
            continue
        if not resolved.is_dir():
            raise Invalid(f"'{raw}' is not a folder")
        return resolved
    if given.is_absolute() and not any(is_within(Path(raw).resolve(), r) for r in roots):
        raise Forbidden(f"'{raw}' is outside the data roots")
    raise NotFound(f"folder '{raw}' does not exist under the data roots")


def relative_to_roots(path: Path, roots: list[Path]) -> str:
    """The path as a user sees it in the folder browser: ``<root name>/<rest>``."""
    for root in roots:
        if is_within(path, root):
            return str(path.relative_to(root))
    return str(path)
