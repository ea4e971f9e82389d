"""Labels in and out: export as CSV, Parquet, JSON or a ZIP of label folders; import from CSV.

Exports are streamed: rows come from the database in batches and leave as byte chunks, so a
million items never sit in memory as one file. They hold the current labels, or the labels as
they stood at a time, or those one tagger's events alone add up to.

CSV and Parquet are long: one row per (item, label), and one row with an empty label for an
unlabeled item, so multi-label datasets need no separator inside a cell. JSON holds one object
per item with its list of labels. The ZIP has one folder per label holding the images
(ImageFolder / ``image_dataset_from_directory`` layout), plus ``labels.csv`` at its root.

An import is one ``import`` event. Rows naming unknown items or classes are refused and reported
by line; a malformed file is refused whole and stores nothing.
"""

from __future__ import annotations

from backend.labels.transfer.archive import folder_names
from backend.labels.transfer.exporting import (
    FORMATS,
    ExportStream,
    check_export_options,
    export_filename,
    export_labels,
)
from backend.labels.transfer.importing import ImportReport, RefusedRow, import_labels_csv, parse_label_csv
from backend.labels.transfer.rows import COLUMNS, LabelRow, label_rows, replay_with_taggers

__all__ = [
    "COLUMNS",
    "FORMATS",
    "ExportStream",
    "ImportReport",
    "LabelRow",
    "RefusedRow",
    "check_export_options",
    "export_filename",
    "export_labels",
    "folder_names",
    "import_labels_csv",
    "label_rows",
    "parse_label_csv",
    "replay_with_taggers",
]
