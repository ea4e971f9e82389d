"""Writers that turn label rows into CSV, Parquet or JSON byte chunks as the rows arrive."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from backend.labels.transfer.rows import COLUMNS, LabelRow

PARQUET_ROW_GROUP = 65536
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# Cells a spreadsheet would run as a formula (OWASP "CSV injection"): =, +, -, @, tab, CR first.
FORMULA_STARTS = frozenset("=+-@\t\r")


def spreadsheet_safe(text: str) -> str:
    """A CSV text cell a spreadsheet shows as text: a ' before a formula's first character.

    Every CSV Labelwise writes (exports, the ZIP's labels.csv) passes text cells through here;
    the CSV import takes the ' off again (``spreadsheet_text``), so exports round-trip.
    """
    return "'" + text if text and text[0] in FORMULA_STARTS else text


def spreadsheet_text(cell: str) -> str:
    """The text ``spreadsheet_safe`` neutralised (and any cell a spreadsheet user escaped alike)."""
    return cell[1:] if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_STARTS else cell


@lru_cache(maxsize=4096)
def iso(moment: datetime | None) -> str:
    """Cached: an export repeats the few times its events were recorded at."""
    return moment.isoformat() if moment else ""


async def csv_chunks(batches: AsyncIterator[list[LabelRow]], sources: dict[int, str]) -> AsyncIterator[bytes]:
    safe_sources = {source_id: spreadsheet_safe(uri) for source_id, uri in sources.items()}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    yield buffer.getvalue().encode()
    async for rows in batches:
        buffer.seek(0)
        buffer.truncate()
        safe = spreadsheet_safe
        writer.writerows(
            (
                r.item_id,
                safe_sources[r.source_id],
                safe(r.uri),
                r.frame,
                safe(r.label or ""),
                safe(r.tagger or ""),
                iso(r.labeled_at),
            )
            for r in rows
        )
        yield buffer.getvalue().encode()


class ChunkSink(io.RawIOBase):
    """A write-only, unseekable file whose bytes are taken out as they come (never held whole)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._size += len(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    @property
    def pending(self) -> int:
        return self._size

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts, self._size = [], 0
        return out


def _parquet_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("item_id", pa.int64()),
            ("source", pa.string()),
            ("uri", pa.string()),
            ("frame", pa.int32()),
            ("label", pa.string()),
            ("tagger", pa.string()),
            ("labeled_at", pa.timestamp("us", tz="UTC")),
        ]
    )


@lru_cache(maxsize=4096)
def _micros(moment: datetime | None) -> int | None:
    """Microseconds since the epoch: Arrow builds timestamps from ints far faster than from datetimes."""
    if moment is None:
        return None
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


async def parquet_chunks(
    batches: AsyncIterator[list[LabelRow]], sources: dict[int, str]
) -> AsyncIterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema()
    stamp = schema.field("labeled_at").type
    sink = ChunkSink()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, compression="zstd")
    pending: list[LabelRow] = []

    def flush() -> bytes:
        columns: list[Any] = list(zip(*pending, strict=True)) if pending else [[] for _ in LabelRow._fields]
        f = dict(zip(LabelRow._fields, columns, strict=True))
        table = pa.table(
            [
                pa.array(f["item_id"], pa.int64()),
                pa.array([sources[s] for s in f["source_id"]], pa.string()),
                pa.array(f["uri"], pa.string()),
                pa.array(f["frame"], pa.int32()),
                pa.array(f["label"], pa.string()),
                pa.array(f["tagger"], pa.string()),
                pa.array([_micros(t) for t in f["labeled_at"]], pa.int64()).cast(stamp),
            ],
            schema=schema,
        )
        writer.write_table(table)
        pending.clear()
        return sink.take()

    async for rows in batches:
        pending.extend(rows)
        if len(pending) >= PARQUET_ROW_GROUP:
            yield flush()
    if pending:
        yield flush()
    writer.close()
    yield sink.take()


async def json_chunks(
    groups: AsyncIterator[list[list[LabelRow]]], header: dict[str, Any], sources: dict[int, str]
) -> AsyncIterator[bytes]:
    opening = json.dumps(header, ensure_ascii=False)[:-1] + ', "items": ['
    yield opening.encode()
    first = True
    async for items in groups:
        objects = []
        for rows in items:
            head = rows[0]
            latest = max(rows, key=lambda r: r.labeled_at or _EPOCH)
            objects.append(
                {
                    "item_id": head.item_id,
                    "source": sources[head.source_id],
                    "uri": head.uri,
                    "frame": head.frame,
                    "labels": [r.label for r in rows if r.label is not None],
                    "tagger": latest.tagger,
                    "labeled_at": iso(latest.labeled_at) or None,
                }
            )
        # One dumps per batch, not per item; the list's brackets are cut off to splice batches.
        text = json.dumps(objects, ensure_ascii=False, separators=(",", ":"))[1:-1]
        yield (("\n" if first else ",\n") + text).encode()
        first = False
    yield b"\n]}\n"
