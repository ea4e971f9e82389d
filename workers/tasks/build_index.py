"""Worker side of "build-index": index the latest inference's vectors, in place beside them."""

from __future__ import annotations

import json

from backend.similarity.index import IndexParams
from backend.similarity.index import build_index as build_feature_index
from workers.context import JobContext


def _step(ctx: JobContext, done: int, total: int) -> None:
    ctx.progress(done, total)
    ctx.check_canceled()  # a canceled build stops between chunks; the old index (if any) stays


def build_index(ctx: JobContext) -> None:
    """Build and save the index next to ``vectors.npy``; its metadata is also the job's output.

    ``build_index`` writes under temporary names and renames, so the server never loads half an
    index, and an index from an earlier build stays usable until the new one is complete.
    """
    if ctx.input_dir is None or not (ctx.input_dir / "vectors.npy").exists():
        raise RuntimeError(
            f"model {ctx.model_id} has no feature vectors for dataset {ctx.dataset_id}: "
            "run an inference job first"
        )
    params = IndexParams(
        m=ctx.options["m"], ef_construction=ctx.options["ef_construction"], ef=ctx.options["ef"]
    )
    ctx.check_canceled()
    ctx.progress(0, 1)
    ctx.log(f"indexing {ctx.input_dir.name} (M={params.m}, ef_construction={params.ef_construction})")
    meta = build_feature_index(ctx.input_dir, params, progress=lambda done, total: _step(ctx, done, total))
    ctx.check_canceled()
    meta["index_dir"] = str(ctx.input_dir.relative_to(ctx.settings.artifact_dir))
    (ctx.artifact_dir / "index.json").write_text(json.dumps(meta))
    ctx.summary.update(meta)
    ctx.log(f"indexed {meta['count']} vectors of length {meta['dim']}")
