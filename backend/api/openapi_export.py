"""The OpenAPI document of the live app, written deterministically to ``openapi/openapi.json``.

The committed file is what clients generate code from; ``tests/api/test_openapi_in_sync.py``
fails when the app and the file differ, and ``make openapi`` writes it again.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.serialization import encode_json

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def openapi_document(app: Litestar) -> dict[str, Any]:
    """The app's OpenAPI document as plain JSON data (keys sorted when written)."""
    document = app.openapi_schema.to_schema()
    # A round trip through JSON turns tuples, enums and structs into what the file holds.
    return json.loads(encode_json(document))


def _ordered(value: Any, keep_order: bool = False) -> Any:
    """Keys sorted at every level, except the media types of a ``content`` map: client generators
    take the first they support, so the app's order (the default format first) is kept."""
    if isinstance(value, dict):
        keys = list(value) if keep_order else sorted(value)
        return {key: _ordered(value[key], key == "content") for key in keys}
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


def render(document: dict[str, Any]) -> str:
    """Stable text: sorted keys (media types in the app's order), two-space indent, a final newline."""
    return json.dumps(_ordered(document), indent=2, ensure_ascii=False) + "\n"


def _export_app(scratch: Path) -> Litestar:
    """An app built on throwaway settings: the document never depends on this machine's setup."""
    from backend.app import create_app
    from backend.settings import Settings

    return create_app(Settings(data_dir=scratch, database_url=f"sqlite+aiosqlite:///{scratch / 'x.sqlite'}"))


def openapi_text(app: Litestar | None = None) -> str:
    if app is not None:
        return render(openapi_document(app))
    with tempfile.TemporaryDirectory(prefix="labelwise-openapi-") as scratch:
        return render(openapi_document(_export_app(Path(scratch))))


def write_openapi(path: Path = OPENAPI_PATH) -> Path:
    """Write the document of a freshly built app to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(openapi_text())
    return path


if __name__ == "__main__":
    print(f"wrote {write_openapi()}")
