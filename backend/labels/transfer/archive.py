"""A ZIP with one folder of images per label (ImageFolder layout), written as a stream."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import tempfile
import zipfile
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.accounts.disclosure import public_error
from backend.labels.transfer.formats import ChunkSink, iso, spreadsheet_safe
from backend.labels.transfer.rows import COLUMNS, LabelRow, class_names
from backend.settings import Settings
from backend.storage.tables import Item, Source

ZIP_PIECE = 1 << 20  # the ZIP leaves in pieces of about this size
RAW_COPY_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
# Names Windows reserves for devices, with or without an extension ("CON", "nul.txt", "COM1.png").
_DEVICE = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)


def entry_name(name: str) -> str:
    """One path component safe to extract anywhere: no separators (/ or \\), drive colons, control
    characters, leading or trailing dots and spaces (so no '..'), nor a Windows device name."""
    cleaned = _UNSAFE.sub("_", name).strip(" .") or "_"
    return "_" + cleaned if _DEVICE.match(cleaned) else cleaned


def folder_names(names: Sequence[str]) -> dict[str, str]:
    """A safe, distinct folder name per class name (distinct regardless of case)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in dict.fromkeys(names):  # a deleted class may share its name with a live one
        base = entry_name(name)
        folder, n = base, 2
        while folder.lower() in taken:
            folder, n = f"{base}_{n}", n + 1
        taken.add(folder.lower())
        out[name] = folder
    return out


class _ZipWriter:
    """Writes item files into an unseekable ZIP, handing back pieces as they fill up."""

    def __init__(
        self,
        settings: Settings,
        sources: dict[int, Source],
        multi_frame: set[tuple[int, str]],
        shown_uris: dict[int, str] | None = None,
        viewer_of: Settings | None = None,
    ):
        self.settings = settings
        self.viewer_of = viewer_of  # a viewer's export: the reasons in skipped.csv without server paths
        self.sink = ChunkSink()
        self.zip = zipfile.ZipFile(self.sink, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self.source_rows = sources
        self.adapters: dict[int, Any] = {}  # opened when first needed: a source may hold no labels
        # The manifest's source column: as the caller may see it (a viewer: relative to its root).
        self.sources = shown_uris or {sid: source.uri for sid, source in sources.items()}
        self.multi_frame = multi_frame
        self.manifest = tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+", newline="")  # noqa: SIM115
        self.manifest_csv = csv.writer(self.manifest, lineterminator="\n")
        self.manifest_csv.writerow(("file", *COLUMNS))
        self.skipped: list[tuple[int, str, str]] = []

    def _payload(self, row: LabelRow) -> tuple[str, Path | bytes]:
        """The file name in the ZIP and where its bytes come from: the original file, or a TIFF."""
        from backend.images import decode
        from backend.sources.folder import FolderSource
        from backend.sources.registry import open_source

        adapter = self.adapters.get(row.source_id)
        if adapter is None:
            adapter = self.adapters[row.source_id] = open_source(
                self.source_rows[row.source_id], self.settings
            )
        name = entry_name(PurePosixPath(row.uri).name)  # a Linux file name may hold '\\' or ':'
        suffix = decode.format_of(name)
        single = row.frame == 0 and (row.source_id, row.uri) not in self.multi_frame
        if isinstance(adapter, FolderSource) and single and suffix in RAW_COPY_SUFFIXES:
            return f"{row.item_id}_{name}", adapter.path_of(row.uri)
        import tifffile

        # as stored: a float32 round trip wrapped 32-bit counts (an Eiger's saturated 4294967295
        # came back 0, an int32 2147483647 came back -2147483648)
        array = adapter.read(row.uri, row.frame, native=True)
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, array)
        stem = decode.stem_of(name)  # scan.edf.gz: scan_f0.tif
        return f"{row.item_id}_{stem}_f{row.frame}.tif", buffer.getvalue()

    def items(self, items: list[list[LabelRow]], folders: dict[str, str]) -> Iterator[bytes]:
        """Add the labeled, readable items; yields pieces of the ZIP while it goes."""
        from backend.errors import LabelwiseError

        for rows in items:
            labeled = [r for r in rows if r.label is not None]
            if not labeled or labeled[0].status != "ok":
                continue
            try:
                name, payload = self._payload(labeled[0])
            except LabelwiseError as exc:
                why = exc.message if self.viewer_of is None else public_error(exc.message, self.viewer_of)
                self.skipped.append((labeled[0].item_id, labeled[0].uri, why or ""))
                continue
            for row in labeled:  # a multi-label item goes into each of its label folders
                arcname = f"{folders[row.label]}/{name}"  # type: ignore[index]
                yield from self._add(arcname, payload)
                self.manifest_csv.writerow(
                    (
                        spreadsheet_safe(arcname),
                        row.item_id,
                        spreadsheet_safe(self.sources[row.source_id]),
                        spreadsheet_safe(row.uri),
                        row.frame,
                        spreadsheet_safe(row.label or ""),
                        spreadsheet_safe(row.tagger or ""),
                        iso(row.labeled_at),
                    )
                )

    def _add(self, arcname: str, payload: Path | bytes) -> Iterator[bytes]:
        if isinstance(payload, bytes):
            self.zip.writestr(arcname, payload)
        else:
            # By name, so the archive's level-1 deflate applies (a ZipInfo would get zlib's slow default).
            big = payload.stat().st_size > (1 << 31)
            with payload.open("rb") as src, self.zip.open(arcname, "w", force_zip64=big) as dst:
                while piece := src.read(ZIP_PIECE):
                    dst.write(piece)
                    if self.sink.pending >= ZIP_PIECE:
                        yield self.sink.take()
        if self.sink.pending >= ZIP_PIECE:
            yield self.sink.take()

    def finish(self) -> Iterator[bytes]:
        self.manifest.seek(0)
        with self.zip.open("labels.csv", "w", force_zip64=True) as dst:
            while piece := self.manifest.read(ZIP_PIECE):
                dst.write(piece.encode())
        self.manifest.close()
        if self.skipped:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(("item_id", "uri", "reason"))
            writer.writerows(
                (i, spreadsheet_safe(uri), spreadsheet_safe(why)) for i, uri, why in self.skipped
            )
            self.zip.writestr("skipped.csv", text.getvalue())
        self.zip.close()
        yield self.sink.take()


async def _drive(pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Run a blocking generator (file reads, compression) in a thread, one piece at a time."""
    done = object()
    while True:
        piece = await asyncio.to_thread(next, pieces, done)
        if piece is done:
            return
        if piece:
            yield piece  # type: ignore[misc]


async def zip_chunks(
    session: AsyncSession,
    settings: Settings,
    dataset_id: int,
    groups: AsyncIterator[list[list[LabelRow]]],
    sources: dict[int, Source],
    shown_uris: dict[int, str] | None = None,
    viewer_of: Settings | None = None,
) -> AsyncIterator[bytes]:
    classes = await class_names(session, dataset_id)
    folders = folder_names([name for _, name in sorted(classes.values())])
    multi = set(
        (
            await session.execute(
                select(col(Item.source_id), col(Item.uri))
                .where(col(Item.dataset_id) == dataset_id, col(Item.frame) > 0)
                .distinct()
            )
        ).all()
    )
    writer = _ZipWriter(settings, sources, {(s, u) for s, u in multi}, shown_uris, viewer_of)
    async for items in groups:
        for item_rows in items:  # names of classes unknown to `folders` (none expected) get a folder too
            for row in item_rows:
                if row.label is not None and row.label not in folders:
                    folders.update(folder_names([*folders, row.label]))
        async for piece in _drive(writer.items(items, folders)):
            yield piece
    async for piece in _drive(writer.finish()):
        yield piece
