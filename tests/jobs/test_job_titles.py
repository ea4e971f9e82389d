"""Every place a person reads a job's name says what it runs: a task's ``algorithm`` is its
model's, so the job page, the jobs table, the train page's recent jobs and the CLI called a UMAP
projection of a PCA model "project pca". REST and GraphQL keep ``algorithm`` and add ``title``."""

from __future__ import annotations

from typing import Any

import pytest

from backend.jobs.naming import job_title
from backend.jobs.views import JobView
from backend.storage.job_tables import Job, Model
from tests.helpers.cli import invoke
from tests.html import all_of, by_id, one, parse, text_of


@pytest.mark.parametrize(
    ("kind", "algorithm", "parameters", "model_id", "title"),
    [
        ("train", "pca", {"n_components": 4}, 7, "train pca"),
        ("infer", "pca", {}, 7, "infer pca"),
        ("project", "pca", {"method": "umap"}, 7, "project umap of model 7 (pca)"),
        ("cluster", "simclr", {"method": "kmeans"}, 7, "cluster kmeans of model 7 (simclr)"),
        ("build-index", "pca", {"m": 16}, 7, "build-index of model 7 (pca)"),
        ("feature-report", "feature-report", {"folds": 5}, None, "feature-report"),
    ],
)
def test_the_title_of_each_kind_of_job(kind, algorithm, parameters, model_id, title):
    job = Job(id=1, kind=kind, algorithm=algorithm, parameters=parameters, dataset_id=2, model_id=model_id)
    assert job_title(job) == title
    assert JobView.of(job).title == title


def _id(job: Job) -> int:
    assert job.id is not None, "a stored job has an id"
    return job.id


async def _jobs_on_a_pca_model(session: Any, dataset_id: int) -> tuple[Model, Job, Job, Job]:
    """A PCA model with a UMAP projection, a failed kmeans clustering and an index: the algorithm
    of all three is "pca"."""
    model = Model(
        name="pca-1", algorithm="pca", kind="feature_extractor", dataset_id=dataset_id, state="ready"
    )
    session.add(model)
    await session.flush()
    done: dict[str, Any] = {"dataset_id": dataset_id, "model_id": model.id, "algorithm": "pca"}
    umap = Job(kind="project", state="succeeded", parameters={"method": "umap", "dimensions": 2}, **done)
    kmeans = Job(kind="cluster", state="failed", parameters={"method": "kmeans"}, error="boom", **done)
    index = Job(kind="build-index", state="succeeded", parameters={"m": 16}, **done)
    session.add_all([umap, kmeans, index])
    await session.commit()
    return model, umap, kmeans, index


async def test_pages_rest_and_graphql_name_a_task_by_its_method_then_its_model(
    jobs_client, image_dataset, session
):
    model, umap, kmeans, index = await _jobs_on_a_pca_model(session, image_dataset.id)
    m = model.id
    umap_title, kmeans_title = f"project umap of model {m} (pca)", f"cluster kmeans of model {m} (pca)"
    titles = {_id(umap): umap_title, _id(kmeans): kmeans_title, _id(index): f"build-index of model {m} (pca)"}

    page = parse((await jobs_client.get(f"/jobs/{umap.id}")).text)
    assert text_of(one(page, "//h1")) == f"Job #{umap.id}: {umap_title}"

    table = by_id(parse((await jobs_client.get("/jobs")).text), "jobs-table")
    for job_id, title in titles.items():
        cells = [text_of(td) for td in all_of(table, f".//tr[@data-job-id='{job_id}']/td")]
        assert cells[:2] == [f"#{job_id}", title], cells

    train_page = parse((await jobs_client.get(f"/datasets/{image_dataset.id}/train")).text)
    recent = all_of(train_page, "//h2[text()='Recent jobs on this dataset']/following::ul[1]//a")
    assert [text_of(a) for a in recent] == [f"#{i} {titles[i]}" for i in sorted(titles, reverse=True)]

    model_page = parse((await jobs_client.get(f"/models/{m}")).text)
    rows = all_of(model_page, "//h2[text()='Jobs']/following::table[1]/tbody/tr")
    shown = {text_of(one(row, "./td[1]")): text_of(one(row, "./td[2]")) for row in rows}
    assert shown == {f"#{i}": title for i, title in titles.items()}, shown

    rest = (await jobs_client.get(f"/api/v1/jobs/{umap.id}")).json()
    assert rest["title"] == umap_title and rest["algorithm"] == "pca"  # the model's, as before
    query = f"{{ job(id: {kmeans.id}) {{ title algorithm }} }}"
    graphql = (await jobs_client.post("/graphql", json={"query": query})).json()
    assert graphql["data"]["job"] == {"title": kmeans_title, "algorithm": "pca"}

    needs = (await jobs_client.get(f"/api/v1/datasets/{image_dataset.id}/next-actions")).json()["needs"]
    assert f"job {kmeans.id} ({kmeans_title}) failed: boom; retry it or change it" in needs, needs


async def test_the_cli_lists_and_shows_what_a_job_runs(cli, image_dataset, session, database):
    model, umap, kmeans, index = await _jobs_on_a_pca_model(session, image_dataset.id)
    listed = await invoke(cli, ["jobs", "list"])
    assert listed.exit_code == 0, listed.output
    lines = {int(line.split()[0]): line for line in listed.output.splitlines()}
    assert f"  project umap of model {model.id} (pca) " in lines[_id(umap)]
    assert f"  cluster kmeans of model {model.id} (pca) " in lines[_id(kmeans)]
    assert f"  build-index of model {model.id} (pca) " in lines[_id(index)]
    assert not any(" project pca " in line or " cluster pca " in line for line in lines.values())
    shown = await invoke(cli, ["jobs", "show", str(umap.id)])
    assert shown.exit_code == 0, shown.output
    first = shown.output.splitlines()[0]
    assert first.split(None, 1)[1].startswith(f"project umap of model {model.id} (pca) "), first


async def test_the_queue_keeps_a_failed_projection_that_a_projection_by_another_method_followed(
    jobs_client, image_dataset, session
):
    """The queue reports the newest job of each kind, algorithm and model: a PCA projection that
    succeeded after a failed UMAP one of the same model hid the failure, though nothing retried it."""
    model = (await _jobs_on_a_pca_model(session, image_dataset.id))[0]  # its UMAP projection is older
    done: dict[str, Any] = {"dataset_id": image_dataset.id, "model_id": model.id, "algorithm": "pca"}
    failed = Job(kind="project", state="failed", parameters={"method": "umap"}, error="no umap", **done)
    session.add(failed)
    await session.commit()
    session.add(Job(kind="project", state="succeeded", parameters={"method": "pca"}, **done))
    await session.commit()
    url = f"/api/v1/datasets/{image_dataset.id}/next-actions"
    needs = (await jobs_client.get(url)).json()["needs"]
    title = f"project umap of model {model.id} (pca)"
    assert f"job {failed.id} ({title}) failed: no umap; retry it or change it" in needs, needs

    session.add(Job(kind="project", state="succeeded", parameters={"method": "umap"}, **done))
    await session.commit()  # a UMAP projection that succeeded since answers it
    needs = (await jobs_client.get(url)).json()["needs"]
    assert not any(f"job {failed.id} " in need for need in needs), needs
