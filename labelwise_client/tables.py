"""Rows the client returns: plain dicts, turned into a pandas DataFrame on request."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is optional: only ``to_pandas`` needs it
    import pandas as pd


class Rows(Sequence[dict[str, Any]]):
    """A list of row dicts with fixed ``columns``; ``to_pandas()`` needs pandas installed."""

    def __init__(self, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
        self.rows = rows
        self.columns = tuple(columns)

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        return self.rows[index]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __repr__(self) -> str:
        return f"<Rows {len(self.rows)} x {list(self.columns)}>"

    def to_pandas(self) -> pd.DataFrame:
        """One row per entry, columns in ``columns`` order (an empty frame keeps its columns)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(self.columns))
