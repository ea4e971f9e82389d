"""Projection and clustering jobs through the real job runtime, and the explorer's REST doors."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select
from strawberry.utils.str_converters import to_snake_case

from backend.storage.tables import CurrentLabel, TagEvent
from tests.helpers.jobs import FIRST_UMAP_SECONDS, wait_for

API = "/api/v1"
PCA_PARAMS = {"n_components": 6, "batch_size": 16, "image_size": 16, "validation_fraction": 0.0}


async def _submit(client, timeout: float = 60, **body) -> dict:
    response = await client.post(f"{API}/jobs", json=body)
    assert response.status_code == 201, response.text
    job = await wait_for(client, response.json()["id"], timeout=timeout)
    assert job["state"] == "succeeded", job["error"]
    return job


@pytest.fixture
async def model_with_vectors(jobs_client, image_dataset) -> dict:
    train = await _submit(
        jobs_client, kind="train", dataset_id=image_dataset.id, algorithm="pca", parameters=PCA_PARAMS
    )
    await _submit(jobs_client, kind="infer", model_id=train["model_id"])
    return {"model_id": train["model_id"], "dataset_id": image_dataset.id}


async def _item_ids(client, dataset_id: int) -> list[int]:
    body = (await client.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 500})).json()
    return [item["id"] for item in body["items"]]


@pytest.mark.parametrize(
    "params",
    [
        {"method": "pca"},
        {"method": "pca", "dimensions": 3},
        # UMAP compiles its numba kernels on first use (tens of seconds): once, in the SQLite pass
        pytest.param({"method": "umap", "n_neighbors": 5}, marks=pytest.mark.ml),
    ],
    ids=["pca-2d", "pca-3d", "umap"],
)
async def test_projection_gives_coordinates_aligned_with_item_ids(jobs_client, model_with_vectors, params):
    model_id, dataset_id = model_with_vectors["model_id"], model_with_vectors["dataset_id"]
    wait = FIRST_UMAP_SECONDS if params["method"] == "umap" else 60
    job = await _submit(jobs_client, wait, kind="project", model_id=model_id, parameters=params)
    body = (await jobs_client.get(f"{API}/models/{model_id}/projection")).json()
    assert body["projection_job_id"] == job["id"]
    assert sorted(body["item_ids"]) == sorted(await _item_ids(jobs_client, dataset_id))
    assert len(body["x"]) == len(body["y"]) == len(body["item_ids"]) == 40
    assert body["dimensions"] == params.get("dimensions", 2)
    assert (body["z"] is not None) == (body["dimensions"] == 3)
    assert body["labels"] == [-1] * 40 and body["clusters"] is None
    assert np.std(body["x"]) > 0 and np.std(body["y"]) > 0  # a real spread, not a constant


async def test_pca_projection_matches_numpy_on_the_same_vectors(jobs_client, model_with_vectors):
    """The first axis of the projection is the first principal axis of the model's vectors."""
    model_id = model_with_vectors["model_id"]
    await _submit(jobs_client, kind="project", model_id=model_id, parameters={"method": "pca"})
    body = (await jobs_client.get(f"{API}/models/{model_id}/projection")).json()
    vectors_response = await jobs_client.get(f"{API}/models/{model_id}/vectors", params={"format": "npy"})
    ids_response = await jobs_client.get(f"{API}/models/{model_id}/item-ids")
    if vectors_response.status_code != 200 or ids_response.status_code != 200:
        pytest.fail(f"vectors download failed: {vectors_response.text} {ids_response.text}")
    import io

    vectors = np.load(io.BytesIO(vectors_response.content))
    ids = np.load(io.BytesIO(ids_response.content))
    centred = vectors - vectors.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    expected = dict(zip(ids.tolist(), (centred @ axis).tolist(), strict=True))
    got = np.asarray(body["x"])
    want = np.asarray([expected[i] for i in body["item_ids"]])
    assert np.allclose(np.abs(got), np.abs(want), atol=1e-3)  # an axis's sign is arbitrary


@pytest.mark.parametrize(
    "params",
    [{"method": "kmeans", "k": 3}, {"method": "dbscan", "eps": 0.5, "min_samples": 2}, {"method": "hdbscan"}],
    ids=["kmeans", "dbscan", "hdbscan"],
)
async def test_clustering_gives_one_cluster_id_per_item(jobs_client, model_with_vectors, params):
    model_id, dataset_id = model_with_vectors["model_id"], model_with_vectors["dataset_id"]
    job = await _submit(jobs_client, kind="cluster", model_id=model_id, parameters=params)
    body = (await jobs_client.get(f"{API}/models/{model_id}/clusters")).json()
    assert body["cluster_job_id"] == job["id"] and body["method"] == params["method"]
    assert sorted(body["item_ids"]) == sorted(await _item_ids(jobs_client, dataset_id))
    clusters = np.asarray(body["clusters"])
    assert clusters.shape == (40,) and clusters.min() >= -1
    if params["method"] == "kmeans":
        assert set(clusters.tolist()) == {0, 1, 2}
    # the projection carries the newest clustering, re-ordered to its own item order
    await _submit(jobs_client, kind="project", model_id=model_id, parameters={"method": "pca"})
    projection = (await jobs_client.get(f"{API}/models/{model_id}/projection")).json()
    by_item = dict(zip(body["item_ids"], body["clusters"], strict=True))
    assert projection["clusters"] == [by_item[i] for i in projection["item_ids"]]


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        pytest.param("project", {"method": "umap", "n_neighbors": 5}, marks=pytest.mark.ml),
        ("cluster", {"method": "kmeans", "k": 3}),
    ],
    ids=["umap", "kmeans"],
)
async def test_the_jobs_log_names_its_method_then_the_model(jobs_client, model_with_vectors, kind, params):
    """A UMAP projection of a PCA model's vectors logged "project pca on 40 items": the model's
    algorithm read as the projection's method."""
    model_id = model_with_vectors["model_id"]
    wait = FIRST_UMAP_SECONDS if params["method"] == "umap" else 60
    job = await _submit(jobs_client, wait, kind=kind, model_id=model_id, parameters=params)
    lines = [line["message"] for line in (await jobs_client.get(f"{API}/jobs/{job['id']}/log")).json()]
    assert f"{kind} {params['method']} of model {model_id} (pca) on 40 items" in lines, lines
    assert not any(line.startswith(f"{kind} pca") for line in lines), lines


@pytest.mark.parametrize(
    ("kind", "params", "words"),
    [
        ("project", {"method": "tsne"}, "Method must be one of pca, umap"),
        ("project", {"n_neighbors": 1}, "UMAP neighbours must be at least 2"),
        ("cluster", {"method": "kmeans", "k": 1}, "KMeans k must be at least 2"),
        # 40 items: the worker failed it, and a retry failed the same way
        ("cluster", {"method": "kmeans", "k": 41}, "KMeans k = 41 clusters need at least 41 items"),
        ("cluster", {"eps": 0}, "DBSCAN eps must be greater than 0"),
        ("cluster", {"colour": "red"}, "unknown parameter(s): colour"),
    ],
)
async def test_invalid_parameters_are_refused_before_queuing(
    jobs_client, model_with_vectors, kind, params, words
):
    before = (await jobs_client.get(f"{API}/jobs")).json()["total"]
    response = await jobs_client.post(
        f"{API}/jobs", json={"kind": kind, "model_id": model_with_vectors["model_id"], "parameters": params}
    )
    assert response.status_code == 400
    assert words in response.json()["error"]["message"]
    assert (await jobs_client.get(f"{API}/jobs")).json()["total"] == before


async def test_a_model_without_vectors_is_refused_before_queuing(jobs_client, image_dataset):
    train = await _submit(
        jobs_client, kind="train", dataset_id=image_dataset.id, algorithm="pca", parameters=PCA_PARAMS
    )
    response = await jobs_client.post(f"{API}/jobs", json={"kind": "project", "model_id": train["model_id"]})
    assert response.status_code == 404
    assert "run inference first" in response.json()["error"]["message"]
    missing = await jobs_client.get(f"{API}/models/{train['model_id']}/projection")
    assert missing.status_code == 404 and "run a project job" in missing.json()["error"]["message"]


async def test_a_selection_is_summarised_and_labeled_as_one_explorer_event(
    jobs_client, model_with_vectors, session
):
    model_id, dataset_id = model_with_vectors["model_id"], model_with_vectors["dataset_id"]
    await _submit(jobs_client, kind="cluster", model_id=model_id, parameters={"method": "kmeans", "k": 2})
    job = await _submit(jobs_client, kind="project", model_id=model_id, parameters={"method": "pca"})
    points = (await jobs_client.get(f"{API}/models/{model_id}/projection")).json()
    cls = (await jobs_client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": "rings"})).json()
    chosen = [i for i, x in zip(points["item_ids"], points["x"], strict=True) if x > np.median(points["x"])]

    stats = await jobs_client.post(f"{API}/models/{model_id}/projection/selection", json={"item_ids": chosen})
    assert stats.status_code == 200, stats.text
    assert stats.json()["count"] == len(chosen)
    assert stats.json()["labels"] == {"unlabeled": len(chosen)}
    assert sum(stats.json()["clusters"].values()) == len(chosen)

    selection = {"mode": "box", "x0": float(np.median(points["x"])), "x1": max(points["x"])}
    response = await jobs_client.post(
        f"{API}/datasets/{dataset_id}/explorer/label",
        json={
            "projection_job_id": job["id"],
            "item_ids": chosen,
            "label_id": cls["id"],
            "selection": selection,
        },
        headers={"X-Labelwise-Tagger": "carol"},
    )
    assert response.status_code == 201, response.text
    event = (await session.scalars(select(TagEvent).where(TagEvent.id == response.json()["id"]))).one()
    assert event.kind == "explorer" and event.tagger == "carol" and event.model_id == model_id
    assert event.parameters["projection_job_id"] == job["id"]
    assert event.parameters["selected"] == len(chosen) and event.parameters["selection"]["mode"] == "box"
    labeled = set((await session.scalars(select(CurrentLabel.item_id))).all())
    assert labeled == set(chosen)

    stats = await jobs_client.post(f"{API}/models/{model_id}/projection/selection", json={"item_ids": chosen})
    assert stats.json()["labels"] == {"rings": len(chosen)}
    again = (await jobs_client.get(f"{API}/models/{model_id}/projection")).json()
    labels = dict(zip(again["item_ids"], again["labels"], strict=True))
    assert all(labels[i] == cls["id"] for i in chosen)


async def test_bad_selections_are_refused(jobs_client, model_with_vectors):
    model_id, dataset_id = model_with_vectors["model_id"], model_with_vectors["dataset_id"]
    job = await _submit(jobs_client, kind="project", model_id=model_id, parameters={"method": "pca"})
    empty = await jobs_client.post(f"{API}/models/{model_id}/projection/selection", json={"item_ids": []})
    assert empty.status_code == 400 and "selection is empty" in empty.json()["error"]["message"]
    stranger = await jobs_client.post(
        f"{API}/models/{model_id}/projection/selection", json={"item_ids": [10**9]}
    )
    assert stranger.status_code == 400 and "not in this projection" in stranger.json()["error"]["message"]
    wrong_job = await jobs_client.post(
        f"{API}/datasets/{dataset_id + 999}/explorer/label",
        json={"projection_job_id": job["id"], "item_ids": [1], "label_id": None, "op": "clear"},
    )
    assert wrong_job.status_code == 400


async def test_graphql_gives_points_and_labels_a_selection(jobs_client, model_with_vectors, session):
    from tests.helpers.graphql import gql, gql_error

    model_id, dataset_id = model_with_vectors["model_id"], model_with_vectors["dataset_id"]
    await _submit(jobs_client, kind="cluster", model_id=model_id, parameters={"method": "kmeans", "k": 2})
    job = await _submit(jobs_client, kind="project", model_id=model_id, parameters={"method": "pca"})
    cls = (await jobs_client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": "arcs"})).json()
    columns = "itemIds x y z clusters labels predicted"
    query = f"""query($m: Int!, $o: Int!, $l: Int!) {{ projection(modelId: $m, offset: $o, limit: $l) {{
        projectionJobId clusterJobId datasetId method dimensions total offset labelsEventId {columns}
        points {{ itemId x y z cluster labelId predictedLabelId }} }} }}"""
    data = (await gql(jobs_client, query, {"m": model_id, "o": 10, "l": 5}))["projection"]
    assert data["projectionJobId"] == job["id"] and data["total"] == 40 and data["offset"] == 10
    assert len(data["itemIds"]) == 5 and set(data["clusters"]) <= {0, 1} and data["z"] is None
    assert data["labels"] == [-1] * 5
    # one contract (docs/decisions/0016): the REST page is the same object, field by field
    rest = await jobs_client.get(f"{API}/models/{model_id}/projection", params={"offset": 10, "limit": 5})
    assert rest.status_code == 200, rest.text
    by_name = {to_snake_case(k): v for k, v in data.items() if k != "points"}
    assert rest.json() == by_name
    whole = (await jobs_client.get(f"{API}/models/{model_id}/projection")).json()
    assert whole["total"] == len(whole["item_ids"]) == 40 and whole["item_ids"][10:15] == data["itemIds"]
    bad = await jobs_client.get(f"{API}/models/{model_id}/projection", params={"offset": -1})
    assert bad.status_code == 400
    # the deprecated per-point shape reads the same page
    assert [p["itemId"] for p in data["points"]] == data["itemIds"]
    assert [p["x"] for p in data["points"]] == data["x"] and [p["cluster"] for p in data["points"]] == data[
        "clusters"
    ]
    assert all(p["labelId"] is None and p["z"] is None for p in data["points"])

    chosen = data["itemIds"]
    mutation = """mutation($d: Int!, $j: Int!, $ids: [Int!]!, $l: Int) {
        labelProjectionSelection(datasetId: $d, projectionJobId: $j, itemIds: $ids, labelId: $l,
          selection: {mode: "lasso"}) { id kind tagCount } }"""
    event = (
        await gql(
            jobs_client, mutation, {"d": dataset_id, "j": job["id"], "ids": chosen, "l": cls["id"]}, "dan"
        )
    )["labelProjectionSelection"]
    assert event["kind"] == "explorer" and event["tagCount"] == 5
    summary = """query($m: Int!, $ids: [Int!]!) { projectionSelection(modelId: $m, itemIds: $ids) {
        count labels clusters } }"""
    stats = (await gql(jobs_client, summary, {"m": model_id, "ids": chosen}))["projectionSelection"]
    assert stats["count"] == 5 and stats["labels"] == {"arcs": 5}
    await gql_error(jobs_client, summary, {"m": model_id, "ids": []}, code="INVALID", fragments=("empty",))
    await gql_error(
        jobs_client,
        "query($m: Int!) { projection(modelId: $m) { total } }",
        {"m": 10**6},
        code="NOT_FOUND",
    )


async def test_unlabel_leaves_the_items_taken_out_of_the_selection_alone(jobs_client, model_with_vectors):
    """The page's "Unlabel" (op clear) sends the selection without the items clicked out of its
    gallery: they keep their labels. A clear records no rejection ("not this class" needs a class),
    and an item both in the selection and taken out of it is refused, nothing cleared."""
    model_id, dataset_id = model_with_vectors["model_id"], model_with_vectors["dataset_id"]
    job = await _submit(jobs_client, kind="project", model_id=model_id, parameters={"method": "pca"})
    cls = (await jobs_client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": "rings"})).json()
    chosen = (await jobs_client.get(f"{API}/models/{model_id}/projection")).json()["item_ids"][:6]
    url = f"{API}/datasets/{dataset_id}/explorer/label"
    body = {"projection_job_id": job["id"], "item_ids": chosen, "label_id": cls["id"]}
    assert (await jobs_client.post(url, json=body)).status_code == 201
    kept, out = chosen[:4], chosen[4:]
    clear = {"projection_job_id": job["id"], "item_ids": kept, "op": "clear"}
    both = await jobs_client.post(url, json={**clear, "rejected_item_ids": [kept[0], *out]})
    assert both.status_code == 400 and "both kept and rejected" in both.json()["error"]["message"]
    cleared = await jobs_client.post(url, json={**clear, "rejected_item_ids": out})
    assert cleared.status_code == 201, cleared.text
    assert cleared.json()["tag_count"] == len(kept) and "rejected" not in cleared.json()["parameters"]
    labels = (await jobs_client.get(f"{API}/models/{model_id}/projection")).json()
    by_item = dict(zip(labels["item_ids"], labels["labels"], strict=True))
    assert [by_item[i] for i in chosen] == [-1] * len(kept) + [cls["id"]] * len(out)
    rejections = (await jobs_client.get(f"{API}/datasets/{dataset_id}/rejections")).json()
    assert rejections["rejections"] == []
