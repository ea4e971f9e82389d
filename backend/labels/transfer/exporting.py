"""Export of a dataset's labels: checks the options, picks the writer, names the file."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.accounts.disclosure import public_location
from backend.datasets.service import get_dataset
from backend.errors import Invalid
from backend.labels.transfer.archive import zip_chunks
from backend.labels.transfer.formats import csv_chunks, iso, json_chunks, parquet_chunks
from backend.labels.transfer.rows import BATCH, grouped, label_rows, sources_of
from backend.settings import Settings
from backend.storage.tables import Item, LabelClass

FORMATS: dict[str, str] = {
    "csv": "text/csv",  # UTF-8; the HTTP layer adds the charset to text types
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
    "zip": "application/zip",
}


@dataclass
class ExportStream:
    """An export ready to send: name, media type and the byte chunks (read them once)."""

    filename: str
    media_type: str
    chunks: AsyncIterator[bytes]
    items: int


def check_export_options(fmt: str, as_of: datetime | None, tagger: str | None) -> None:
    if fmt not in FORMATS:
        raise Invalid(f"unknown export format '{fmt}' (use one of {', '.join(FORMATS)})")
    if as_of is not None and tagger:
        raise Invalid("give 'as_of' or 'tagger', not both")
    if as_of is not None and as_of.tzinfo is None:
        raise Invalid("'as_of' needs a time zone (times are UTC)")


def export_filename(dataset_name: str, fmt: str, as_of: datetime | None, tagger: str | None) -> str:
    """A file name that says what the export holds, safe in a Content-Disposition header."""
    safe = re.sub(r"[^\w.-]+", "_", dataset_name, flags=re.ASCII).strip("._") or "dataset"
    suffix = ""
    if as_of is not None:
        suffix = f"-as-of-{as_of:%Y%m%dT%H%M%S}"
    elif tagger:
        suffix = "-by-" + re.sub(r"[^\w.-]+", "_", tagger, flags=re.ASCII)
    return f"{safe}-labels{suffix}.{fmt}"


async def export_labels(
    session: AsyncSession,
    settings: Settings,
    dataset_id: int,
    fmt: str,
    *,
    as_of: datetime | None = None,
    tagger: str | None = None,
    unlabeled: bool = True,
    batch: int = BATCH,
    viewer_of: Settings | None = None,
) -> ExportStream:
    """An export of the dataset's labels; its chunks read the database through ``session``.

    ``unlabeled`` keeps unlabeled items as rows with an empty label (CSV, Parquet, JSON); the ZIP
    holds labeled, readable items only. ``viewer_of``: the caller is a viewer, whose ``source``
    column names folders relative to their data root, as every other door does (decision 0007).
    """
    check_export_options(fmt, as_of, tagger)
    dataset = await get_dataset(session, dataset_id)
    sources = await sources_of(session, dataset_id)
    source_uris = {
        sid: s.uri if viewer_of is None else public_location(s.uri, viewer_of) for sid, s in sources.items()
    }
    count = int(await session.scalar(select(func.count()).where(col(Item.dataset_id) == dataset_id)) or 0)
    rows = label_rows(
        session, dataset_id, as_of=as_of, tagger=tagger, unlabeled=unlabeled and fmt != "zip", batch=batch
    )
    if fmt == "csv":
        chunks = csv_chunks(rows, source_uris)
    elif fmt == "parquet":
        chunks = parquet_chunks(rows, source_uris)
    elif fmt == "json":
        classes = (
            await session.scalars(
                select(LabelClass)
                .where(col(LabelClass.dataset_id) == dataset_id, col(LabelClass.deleted_at).is_(None))
                .order_by(col(LabelClass.position), col(LabelClass.id))
            )
        ).all()
        header = {
            "dataset": {"id": dataset.id, "name": dataset.name, "multi_label": dataset.multi_label},
            "as_of": iso(as_of) or None,
            "tagger": tagger,
            "classes": [{"name": c.name, "color": c.color, "hotkey": c.hotkey} for c in classes],
        }
        chunks = json_chunks(grouped(rows), header, source_uris)
    else:
        chunks = zip_chunks(session, settings, dataset_id, grouped(rows), sources, source_uris, viewer_of)
    return ExportStream(export_filename(dataset.name, fmt, as_of, tagger), FORMATS[fmt], chunks, count)
