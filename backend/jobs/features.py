"""Feature vectors of an inference run as downloadable files (.npy, Parquet with item ids)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np

from backend.errors import Invalid, NotFound
from backend.jobs.artifacts import ITEM_IDS, VECTORS
from backend.storage import npy

FORMATS = ("npy", "parquet")


def vectors_file(directory: Path, fmt: str) -> Path:
    """``vectors.npy`` as written, or a Parquet file (item_id, vector) made once and kept beside it."""
    if fmt not in FORMATS:
        raise Invalid(f"unknown format '{fmt}' (use one of {', '.join(FORMATS)})")
    vectors_path, ids_path = directory / VECTORS, directory / ITEM_IDS
    if not vectors_path.exists() or not ids_path.exists():
        raise NotFound("this inference wrote no feature vectors")
    if fmt == "npy":
        return vectors_path
    target = directory / "vectors.parquet"
    if not target.exists():
        _write_parquet(vectors_path, ids_path, target)
    return target


def item_ids_file(directory: Path) -> Path:
    """The item ids aligned row by row with the ``npy`` vectors of ``vectors_file``."""
    return vectors_file(directory, "npy").with_name(ITEM_IDS)


def _write_parquet(vectors_path: Path, ids_path: Path, target: Path, rows_per_group: int = 65536) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = npy.load(vectors_path, mmap_mode="r")
    item_ids = npy.load(ids_path)
    width = vectors.shape[1]
    schema = pa.schema([("item_id", pa.int64()), ("vector", pa.list_(pa.float32(), width))])
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    try:
        with pq.ParquetWriter(temp, schema) as writer:
            for start in range(0, len(item_ids), rows_per_group):
                block = np.ascontiguousarray(vectors[start : start + rows_per_group], dtype=np.float32)
                values = pa.array(block.reshape(-1), type=pa.float32())
                column = pa.FixedSizeListArray.from_arrays(values, width)
                ids = pa.array(item_ids[start : start + rows_per_group], type=pa.int64())
                writer.write_table(pa.Table.from_arrays([ids, column], schema=schema))
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
