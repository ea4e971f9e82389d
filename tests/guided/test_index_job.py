"""The build-index job: a real job indexes a real model's vectors, in place, with its parameters."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import func, select

from backend.similarity.index import FeatureIndex, IndexCache, build_index
from backend.storage.job_tables import Job
from tests.helpers.guided import API, exact_ranking, feature_dir, latest_infer, pca_model, run_job


async def test_index_built_by_a_job_ranks_like_exact_search(server, dataset, guided_settings):
    model_id = await pca_model(server, dataset.id)
    job = await run_job(server, {"kind": "build-index", "model_id": model_id})
    assert job["parameters"] == {"m": 16, "ef_construction": 200, "ef": 200}  # defaults filled in
    assert job["outputs"] == ["index.json"]
    assert job["done"] == job["total"] == 30

    directory = feature_dir(guided_settings, await latest_infer(server, model_id))
    assert {"index.bin", "index.json"} <= {p.name for p in directory.iterdir()}
    assert not [p for p in directory.iterdir() if ".tmp" in p.name]
    meta = json.loads((directory / "index.json").read_text())
    assert meta == {"m": 16, "ef_construction": 200, "ef": 200, "count": 30, "dim": 4}

    hnsw = FeatureIndex(directory, exact_threshold=0)
    exact = FeatureIndex(directory, exact_threshold=10**9)
    assert not hnsw.exact and exact.exact
    for query in hnsw.item_ids.tolist():
        got_ids, got_sims = hnsw.search(hnsw.vectors_of([query]), 30)
        want_ids, want_sims = exact.search(exact.vectors_of([query]), 30)
        truth_ids, truth_sims = exact_ranking(directory, [query])
        assert np.allclose(got_sims[0], truth_sims, atol=1e-5)
        assert np.allclose(want_sims[0], truth_sims, atol=1e-5)
        assert got_ids[0][:10].tolist() == want_ids[0][:10].tolist() == truth_ids[:10]


async def test_index_is_reloaded_from_disk_and_rebuilt_with_new_parameters(server, dataset, guided_settings):
    model_id = await pca_model(server, dataset.id)
    await run_job(server, {"kind": "build-index", "model_id": model_id})
    directory = feature_dir(guided_settings, await latest_infer(server, model_id))
    cache = IndexCache(exact_threshold=0)
    first = cache.get(directory)
    assert cache.get(directory) is first  # kept in memory while the files are unchanged
    assert first.params.m == 16

    await run_job(
        server,
        {
            "kind": "build-index",
            "model_id": model_id,
            "parameters": {"m": 8, "ef_construction": 50, "ef": 64},
        },
    )
    second = cache.get(directory)  # the files changed: loaded again
    assert second is not first and (second.params.m, second.params.ef) == (8, 64)
    a_ids, a_sims = first.search(first.vectors[:3], 10)
    b_ids, b_sims = second.search(second.vectors[:3], 10)
    assert np.allclose(a_sims, b_sims, atol=1e-5) and a_ids[:, 0].tolist() == b_ids[:, 0].tolist()

    reloaded = FeatureIndex(directory, exact_threshold=0)  # a fresh process reading the saved index
    assert np.array_equal(reloaded.search(reloaded.vectors[:3], 10)[0], b_ids)


async def test_bad_index_parameters_are_refused_before_anything_is_queued(server, dataset, session):
    model_id = await pca_model(server, dataset.id)
    before = await session.scalar(select(func.count()).select_from(Job))
    response = await server.post(
        f"{API}/jobs", json={"kind": "build-index", "model_id": model_id, "parameters": {"m": 1, "ef": 0}}
    )
    assert response.status_code == 400, response.text
    fields = {e["field"] for e in response.json()["error"]["details"]["errors"]}
    assert fields == {"m", "ef"}
    assert await session.scalar(select(func.count()).select_from(Job)) == before


async def test_build_index_without_an_inference_is_refused_saying_what_to_run(server, dataset, session):
    model_id = await pca_model(server, dataset.id, infer=False)
    before = await session.scalar(select(func.count()).select_from(Job))
    response = await server.post(f"{API}/jobs", json={"kind": "build-index", "model_id": model_id})
    assert response.status_code == 404, response.text
    assert "run inference first" in response.json()["error"]["message"]
    assert await session.scalar(select(func.count()).select_from(Job)) == before


class Stop(Exception):
    pass


async def test_a_build_stopped_between_chunks_writes_nothing(server, dataset, guided_settings):
    model_id = await pca_model(server, dataset.id)
    directory = feature_dir(guided_settings, await latest_infer(server, model_id))
    before = sorted(p.name for p in directory.iterdir())
    seen = []

    def stop_after_first(done: int, total: int) -> None:
        seen.append((done, total))
        raise Stop

    with pytest.raises(Stop):
        build_index(directory, progress=stop_after_first, chunk=8)
    assert seen == [(8, 30)]
    assert sorted(p.name for p in directory.iterdir()) == before  # no index, no temporary file
