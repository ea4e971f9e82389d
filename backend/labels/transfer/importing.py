"""Import of labels from CSV as one ``import`` event, refusing and reporting bad rows by line."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.datasets.service import get_dataset
from backend.errors import Invalid, TooLarge
from backend.labels.classes import clean_class_name, default_color, next_free_hotkey
from backend.labels.events import TagChange, lock_dataset, record_changes
from backend.labels.transfer.formats import spreadsheet_text
from backend.labels.transfer.rows import BATCH, sources_of
from backend.storage.tables import CurrentLabel, Item, LabelClass, Source


@dataclass
class RefusedRow:
    line: int
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    accepted: int = 0
    refused: list[RefusedRow] = field(default_factory=list)
    event_id: int | None = None
    created_classes: list[str] = field(default_factory=list)
    unknown_classes: list[str] = field(default_factory=list)
    unknown_items: int = 0
    unlabeled: int = 0  # items that had labels and that a row with an empty label left with none


@dataclass
class _Line:
    line: int
    item_id: int | None
    source: str
    uri: str
    frame: int
    label: str


KEY_ALIASES = {"path": "uri", "file": "uri", "filename": "uri", "id": "item_id"}


def _delimiter(text: str) -> str:
    """Comma, or the semicolon / tab a spreadsheet in another locale writes, read off the header."""
    header = text.lstrip().split("\n", 1)[0]
    if "," in header:
        return ","
    return next((d for d in ";\t" if d in header), ",")


def parse_label_csv(data: bytes) -> list[_Line]:
    """Rows of a label CSV. Raises Invalid, naming the line, for anything malformed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"the file is not UTF-8 text (bad byte at offset {exc.start})") from exc
    if "\x00" in text:
        raise Invalid("the file holds NUL bytes: it is not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        if header is None:
            raise Invalid(
                "the file is empty: a header line such as 'uri,label' or 'item_id,label' comes first"
            )
        names = [KEY_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
        if len(set(names)) != len(names):
            raise Invalid(f"line {reader.line_num}: the header names a column twice: {header}")
        if "label" not in names:
            raise Invalid(f"line {reader.line_num}: the header has no 'label' column: {header}")
        if "uri" not in names and "item_id" not in names:
            raise Invalid(
                f"line {reader.line_num}: the header needs an 'item_id' or a 'uri' column: {header}"
            )
        where = {name: names.index(name) for name in names}
        lines: list[_Line] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                raise Invalid(
                    f"line {reader.line_num}: {len(row)} fields where the header has {len(names)}",
                    line=reader.line_num,
                )
            lines.append(_parse_row(row, where, reader.line_num))
    except csv.Error as exc:
        raise Invalid(f"line {reader.line_num}: not valid CSV ({exc})", line=reader.line_num) from exc
    return lines


def _parse_row(row: list[str], where: dict[str, int], line: int) -> _Line:
    def cell(name: str) -> str:
        return spreadsheet_text(row[where[name]].strip()) if name in where else ""

    def integer(name: str) -> int | None:
        value = cell(name)
        if not value:
            return None
        try:
            return int(value)
        except ValueError:
            raise Invalid(f"line {line}: {name} '{value}' is not a whole number", line=line) from None

    item_id, frame = integer("item_id"), integer("frame") or 0
    uri = cell("uri")
    if item_id is None and not uri:
        raise Invalid(f"line {line}: neither an item_id nor a uri", line=line)
    return _Line(line, item_id, cell("source"), uri, frame, cell("label"))


async def _resolve_items(
    session: AsyncSession, dataset_id: int, lines: list[_Line], sources: dict[int, Source]
) -> tuple[dict[int, int], dict[int, str]]:
    """line -> item id for rows that name an item of the dataset; line -> reason for the rest."""
    found: dict[int, int] = {}
    refused: dict[int, str] = {}
    by_uri = [ln for ln in lines if ln.uri]
    by_id = [ln for ln in lines if not ln.uri]
    places: dict[tuple[str, int], list[tuple[int, int]]] = {}
    uris = sorted({ln.uri for ln in by_uri})
    connection = await session.connection()  # Core rows: no ORM bookkeeping for 100k look-ups
    for start in range(0, len(uris), BATCH):
        rows = await connection.execute(
            select(col(Item.id), col(Item.source_id), col(Item.uri), col(Item.frame)).where(
                col(Item.dataset_id) == dataset_id, col(Item.uri).in_(uris[start : start + BATCH])
            )
        )
        for item_id, source_id, uri, frame in rows.all():
            places.setdefault((uri, frame), []).append((item_id, source_id))
    for ln in by_uri:
        candidates = places.get((ln.uri, ln.frame), [])
        if len(candidates) > 1 and ln.source:
            candidates = [c for c in candidates if sources[c[1]].uri == ln.source]
            if not candidates:
                refused[ln.line] = f"'{ln.uri}' is in several sources, none of them '{ln.source}'"
                continue
        if len(candidates) == 1:
            found[ln.line] = candidates[0][0]
        elif not candidates:
            frame = f" frame {ln.frame}" if ln.frame else ""
            refused[ln.line] = f"unknown item: no '{ln.uri}'{frame} in this dataset"
        else:
            refused[ln.line] = f"'{ln.uri}' is in several sources; add a 'source' column to choose one"
    ids = sorted({ln.item_id for ln in by_id if ln.item_id is not None})
    known: set[int | None] = set()
    for start in range(0, len(ids), BATCH):
        known.update(
            (
                await connection.scalars(
                    select(col(Item.id)).where(
                        col(Item.dataset_id) == dataset_id, col(Item.id).in_(ids[start : start + BATCH])
                    )
                )
            ).all()
        )
    for ln in by_id:
        if ln.item_id is not None and ln.item_id in known:
            found[ln.line] = ln.item_id
        else:
            refused[ln.line] = f"unknown item: item {ln.item_id} is not in this dataset"
    return found, refused


async def import_labels_csv(
    session: AsyncSession,
    dataset_id: int,
    data: bytes,
    tagger: str,
    *,
    create_classes: bool = False,
    filename: str | None = None,
    max_bytes: int | None = None,
    max_classes: int | None = None,
) -> ImportReport:
    """Set the labels a CSV gives (``item_id`` or ``uri`` [+ ``frame``, ``source``], ``label``).

    All accepted rows become one ``import`` event; each item gets exactly the labels its rows name
    (an empty label unlabels it; ``unlabeled`` counts the items that had labels and lose them, as
    importing one dataset's export, whose unlabeled items have such rows, into another does).
    With ``create_classes`` a label no class has makes one, as the class panel does: the
    palette's next color and the next free hotkey. Refused rows are reported by line. A malformed
    file raises Invalid before anything is stored; so does a file over ``max_bytes`` (TooLarge),
    and one whose new classes would take the dataset over ``max_classes`` (Invalid, naming the
    counts).
    """
    if max_bytes is not None and len(data) > max_bytes:
        raise TooLarge(f"the file has {len(data)} bytes; at most {max_bytes} may be imported at once")
    dataset = await get_dataset(session, dataset_id)
    lines = parse_label_csv(data)
    report = ImportReport(rows=len(lines))
    sources = await sources_of(session, dataset_id)
    found, refused = await _resolve_items(session, dataset_id, lines, sources)
    report.unknown_items = len(refused)

    if not found:  # no row names an item: nothing to record, no lock to take
        report.refused = [RefusedRow(line, refused[line]) for line in sorted(refused)]
        return report
    # The file's names are mapped to the classes live under the dataset's write lock (held until the
    # event's commit): one the panel adds meanwhile is labeled with, not made again (a unique-name
    # failure); one it deletes meanwhile is as if it never was, not given labels no page shows.
    try:
        await lock_dataset(session, dataset_id)
        live = await _live_classes(session, dataset_id)
        plans, classes, new_classes = _plan(
            lines, found, refused, live, report, create_classes, dataset_id, dataset.multi_label
        )
        report.refused = [RefusedRow(line, refused[line]) for line in sorted(refused)]
        report.accepted = len(lines) - len(refused)
        if not plans:
            await session.rollback()  # releases the lock; nothing was written
            return report
        used = {key for _, keys in plans for key in keys}
        creating = sum(1 for key in new_classes if key in used)
        if max_classes is not None and creating and len(live) + creating > max_classes:
            raise Invalid(
                f"the file would create {creating} new classes; the dataset has {len(live)} and may "
                f"hold at most {max_classes} (setting max_classes_per_dataset): nothing was imported",
                new_classes=creating,
                classes=len(live),
                max_classes=max_classes,
            )
        count = int(
            await session.scalar(select(func.count()).where(col(LabelClass.dataset_id) == dataset_id)) or 0
        )
        for key, label in new_classes.items():
            if key in used:  # a class that only refused rows name is not made
                # as a class added in the panel: the palette's next color and the next free key
                label.position, label.color = count, default_color(count)
                label.hotkey = await next_free_hotkey(session, dataset_id)
                count += 1
                session.add(label)
                await session.flush()  # its key is taken for the next one
                report.created_classes.append(label.name)
    except BaseException:
        await session.rollback()
        raise
    report.unlabeled = await _labeled_count(session, [item_id for item_id, keys in plans if not keys])
    changes = [
        change for item_id, keys in plans for change in _changes_for(item_id, [classes[k].id for k in keys])
    ]
    event = await record_changes(
        session,
        dataset_id,
        tagger=tagger,
        kind="import",
        changes=changes,
        parameters={
            "format": "csv",
            "filename": filename,
            "rows": report.rows,
            "accepted": report.accepted,
            "refused": len(report.refused),
            "created_classes": report.created_classes,
            "unlabeled": report.unlabeled,
        },
    )
    report.event_id = event.id
    return report


def _plan(
    lines: list[_Line],
    found: dict[int, int],
    refused: dict[int, str],
    live: list[LabelClass],
    report: ImportReport,
    create_classes: bool,
    dataset_id: int,
    multi_label: bool,
) -> tuple[list[tuple[int, list[str]]], dict[str, LabelClass], dict[str, LabelClass]]:
    """Each item's wanted class keys, the classes by key and the ones to make; refuses rows in ``refused``.

    ``live`` are the classes under the write lock: a class deleted since the import began is unknown.
    """
    # Names are unique among live classes regardless of case: the folded name is the key.
    classes: dict[str, LabelClass] = {c.name.lower(): c for c in live}
    new_classes: dict[str, LabelClass] = {}
    class_of: dict[int, str | None] = {}
    unknown: dict[str, None] = {}
    for ln in lines:
        if ln.line in refused:
            continue
        key = ln.label.lower() or None
        if key is None or key in classes:
            class_of[ln.line] = key
        elif not create_classes:
            unknown[ln.label] = None
            refused[ln.line] = f"unknown class '{ln.label}' (import with create_classes to add it)"
        else:
            try:
                name = clean_class_name(ln.label)
            except Invalid as exc:
                refused[ln.line] = f"cannot create class: {exc.message}"
                continue
            # position, color and hotkey are given when it is made
            new_classes[key] = classes[key] = LabelClass(dataset_id=dataset_id, name=name, color="")
            class_of[ln.line] = key
    report.unknown_classes = list(unknown)

    by_item: dict[int, list[_Line]] = {}
    for ln in lines:
        if ln.line not in refused:
            by_item.setdefault(found[ln.line], []).append(ln)
    plans: list[tuple[int, list[str]]] = []
    for item_id, item_lines in by_item.items():
        wanted = {class_of[ln.line] for ln in item_lines}
        if not multi_label and len(wanted) > 1:
            names = ", ".join(sorted(classes[k].name if k else "(none)" for k in wanted))
            for ln in item_lines:
                refused[ln.line] = f"item {item_id} gets several labels ({names}) in a single-label dataset"
            continue
        plans.append((item_id, sorted(k for k in wanted if k is not None)))
    return plans, classes, new_classes


async def _live_classes(session: AsyncSession, dataset_id: int) -> list[LabelClass]:
    """The dataset's classes that are not deleted, as stored now (not as this session read them)."""
    rows = await session.scalars(
        select(LabelClass)
        .where(col(LabelClass.dataset_id) == dataset_id, col(LabelClass.deleted_at).is_(None))
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def _labeled_count(session: AsyncSession, item_ids: list[int]) -> int:
    """How many of ``item_ids`` hold a label now."""
    labeled: set[int] = set()
    ids = sorted(item_ids)
    for start in range(0, len(ids), BATCH):
        labeled.update(
            (
                await session.scalars(
                    select(col(CurrentLabel.item_id)).where(
                        col(CurrentLabel.item_id).in_(ids[start : start + BATCH])
                    )
                )
            ).all()
        )
    return len(labeled)


def _changes_for(item_id: int, label_ids: list[int | None]) -> list[TagChange]:
    """Changes that leave the item with exactly ``label_ids``."""
    if not label_ids:
        return [TagChange(item_id, "clear")]
    if len(label_ids) == 1:
        return [TagChange(item_id, "set", label_ids[0])]
    return [TagChange(item_id, "clear")] + [TagChange(item_id, "add", label) for label in label_ids]
