"""Keep models fresh: follow-up jobs queued by the server (embedded broker here; Redis in
``test_keep_fresh_redis.py``), the retrain trigger, the switch through REST, the next step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

import tests.guided.fixed_classifier  # noqa: F401  (registers the test classifier)
from backend.jobs import fresh
from backend.jobs.submission import submit_job
from backend.labels.classes import create_class
from backend.labels.events import TagRequest, record_event
from backend.storage.job_tables import Job, JobLog, Model
from backend.storage.tables import Item
from backend.storage.types import utcnow
from tests.helpers.jobs import API, FAST, follow_up, make_dataset, switch, train, wait_for, wait_until
from tests.html import attr, by_id, one, parse, text_of


async def log_of(client: Any, job_id: int) -> str:
    return "\n".join(line["message"] for line in (await client.get(f"{API}/jobs/{job_id}/log")).json())


async def test_an_extractor_training_queues_its_inference_then_its_index_build(jobs_client, image_dataset):
    assert (await switch(jobs_client, image_dataset.id, True))["keep_models_fresh"] is True
    trained = await wait_for(
        jobs_client, (await train(jobs_client, image_dataset.id, "test-sleeper", FAST))["id"]
    )
    assert trained["state"] == "succeeded", trained["error"]

    infer = await follow_up(jobs_client, trained["id"], image_dataset.id)
    assert (infer["kind"], infer["model_id"], infer["submitted_by"]) == (
        "infer",
        trained["model_id"],
        fresh.FRESH_BY,
    )
    assert (await wait_for(jobs_client, infer["id"]))["state"] == "succeeded"
    index = await follow_up(jobs_client, infer["id"], image_dataset.id)
    assert index["kind"] == "build-index"
    assert (await wait_for(jobs_client, index["id"]))["state"] == "succeeded"
    assert f"keep models fresh: queued infer job #{infer['id']}" in await log_of(jobs_client, trained["id"])

    step = (await jobs_client.get(f"{API}/models/{trained['model_id']}/next-step")).json()
    assert step["action"] == "similarity" and step["method"] == "get"
    # the chain ends there: nothing follows the index build
    jobs = (await jobs_client.get(f"{API}/jobs", params={"dataset_id": image_dataset.id})).json()["jobs"]
    assert len(jobs) == 3


async def test_a_failed_or_canceled_step_stops_the_chain_with_a_message(jobs_client, image_dataset):
    await switch(jobs_client, image_dataset.id, True)
    failing = await train(jobs_client, image_dataset.id, "test-sleeper", {**FAST, "fail_at_step": 1})
    slow = await train(jobs_client, image_dataset.id, "test-sleeper", {"steps": 200, "step_seconds": 0.05})
    await wait_for(jobs_client, slow["id"], ("running",))
    assert (await jobs_client.post(f"{API}/jobs/{slow['id']}/cancel")).status_code == 200
    for job, state in ((failing, "failed"), (slow, "canceled")):
        assert (await wait_for(jobs_client, job["id"]))["state"] == state

        async def stopped(job_id: int = job["id"]) -> bool:
            return "keep models fresh: the chain stops here" in await log_of(jobs_client, job_id)

        await wait_until(stopped, 30, f"the chain-stop message of job {job['id']}")
    jobs = (await jobs_client.get(f"{API}/jobs", params={"dataset_id": image_dataset.id})).json()["jobs"]
    assert len(jobs) == 2 and all(j["caused_by_job_id"] is None for j in jobs)
    step = (await jobs_client.get(f"{API}/jobs/{failing['id']}/next-step")).json()
    assert (step["action"], step["method"], step["href"]) == ("retry", "post", f"/jobs/{failing['id']}/retry")


async def test_with_the_switch_off_nothing_follows(jobs_client, image_dataset, session):
    await switch(jobs_client, image_dataset.id, True)
    off = await switch(jobs_client, image_dataset.id, False)
    assert off["keep_models_fresh"] is False and off["since"] is None
    trained = await wait_for(
        jobs_client, (await train(jobs_client, image_dataset.id, "test-sleeper", FAST))["id"]
    )
    assert trained["state"] == "succeeded"
    await wait_for(jobs_client, trained["id"])
    import asyncio

    await asyncio.sleep(1.0)  # several ticks of the runtime (heartbeat 0.1 s)
    assert (await session.scalars(select(Job.id).where(Job.caused_by_job_id.is_not(None)))).all() == []
    step = (await jobs_client.get(f"{API}/jobs/{trained['id']}/next-step")).json()
    assert (step["action"], step["title"]) == ("infer", "Run inference")
    run = await jobs_client.post(f"{API}/models/{trained['model_id']}/next-step", json={"expected": "infer"})
    assert run.status_code == 201 and run.json()["kind"] == "infer"
    again = await jobs_client.post(
        f"{API}/models/{trained['model_id']}/next-step", json={"expected": "infer"}
    )
    assert again.status_code == 409  # the step is now "follow the inference"


async def test_the_switch_refuses_bad_growth_and_unknown_datasets(client, session, folder, settings):
    from tests.helpers.jobs import make_dataset

    dataset = await make_dataset(session, settings, folder, count=3)
    bad = await client.put(f"{API}/datasets/{dataset.id}/keep-fresh", json={"growth": 0})
    assert bad.status_code == 400 and "growth" in bad.text
    assert (
        await client.put(f"{API}/datasets/999999/keep-fresh", json={"keep_models_fresh": True})
    ).status_code == 404
    set_growth = await client.put(f"{API}/datasets/{dataset.id}/keep-fresh", json={"growth": 0.5})
    assert set_growth.json() == {
        "dataset_id": dataset.id,
        "keep_models_fresh": False,
        "growth": 0.5,
        "since": None,
    }


def test_retrain_threshold_is_the_growth_fraction():
    assert fresh.retrain_at(10, 0.2) == 12
    assert fresh.retrain_at(11, 0.2) == 14  # 13.2 rounds up
    assert fresh.retrain_at(0, 0.2) == 1
    assert fresh.retrain_at(100, 0.05) == 105


async def test_a_classifier_is_retrained_and_reinferred_when_labels_grow_by_the_fraction(
    jobs_client, image_dataset, database, session
):
    dataset_id = image_dataset.id
    classes = [
        (await jobs_client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": n})).json()["id"]
        for n in ("a", "b")
    ]
    items = [
        i["id"]
        for i in (await jobs_client.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 100})).json()[
            "items"
        ]
    ]

    async def label(ids: list[int]) -> None:
        async with database.session() as s:
            for n, item in enumerate(ids):
                await record_event(s, TagRequest(dataset_id, "tester", [item], classes[n % 2]))

    await label(items[:10])
    first = await wait_for(jobs_client, (await train(jobs_client, dataset_id, "test-fixed-classifier"))["id"])
    assert first["state"] == "succeeded"
    await switch(jobs_client, dataset_id, True, growth=0.2)

    await label(items[10:11])  # 11 labeled: below 12
    import asyncio

    await asyncio.sleep(1.0)
    trains = (await jobs_client.get(f"{API}/jobs", params={"dataset_id": dataset_id, "kind": "train"})).json()
    assert trains["total"] == 1

    await label(items[11:12])  # 12 = 10 * 1.2: retrain
    retrain = await follow_up(jobs_client, first["id"], dataset_id)
    assert retrain["kind"] == "train" and retrain["algorithm"] == "test-fixed-classifier"
    assert (await wait_for(jobs_client, retrain["id"]))["state"] == "succeeded"
    infer = await follow_up(jobs_client, retrain["id"], dataset_id)
    assert infer["kind"] == "infer" and (await wait_for(jobs_client, infer["id"]))["state"] == "succeeded"
    model = (await jobs_client.get(f"{API}/models/{retrain['model_id']}")).json()
    assert model["trained_on"]["labeled_count"] == 12
    notes = (await session.scalars(select(JobLog.message).where(JobLog.job_id == retrain["id"]))).all()
    assert any("grew from 10 to 12" in n for n in notes)
    step = (await jobs_client.get(f"{API}/jobs/{infer['id']}/next-step")).json()
    assert step["action"] == "probability" and step["title"] == "Review probability batches"
    await asyncio.sleep(0.5)  # no second retrain: the newest model trained on 12 labels
    trains = (await jobs_client.get(f"{API}/jobs", params={"dataset_id": dataset_id, "kind": "train"})).json()
    assert trains["total"] == 2


SET = """mutation($d: Int!, $on: Boolean, $g: Float) {
  setKeepFresh(datasetId: $d, keepModelsFresh: $on, growth: $g) {
    datasetId keepModelsFresh growth since } }"""
GET = "query($d: Int!) { keepFresh(datasetId: $d) { keepModelsFresh growth } }"
STEP = "query($j: Int!) { jobNextStep(jobId: $j) { action title method href } }"
RUN = "mutation($m: Int!, $e: String!) { runNextStep(modelId: $m, expected: $e) { id kind causedByJobId } }"


async def test_the_switch_and_the_next_step_through_graphql(jobs_client, image_dataset):
    from tests.helpers.graphql import gql, gql_error

    on = (await gql(jobs_client, SET, {"d": image_dataset.id, "on": True, "g": 0.5}))["setKeepFresh"]
    assert on["keepModelsFresh"] is True and on["growth"] == 0.5 and on["since"]
    rest = (await jobs_client.get(f"{API}/datasets/{image_dataset.id}/keep-fresh")).json()
    assert rest["keep_models_fresh"] is True and rest["growth"] == 0.5
    await gql_error(
        jobs_client, SET, {"d": image_dataset.id, "g": -1.0}, code="INVALID", fragments=("growth",)
    )
    off = (await gql(jobs_client, SET, {"d": image_dataset.id, "on": False}))["setKeepFresh"]
    assert off["keepModelsFresh"] is False and off["since"] is None
    assert (await gql(jobs_client, GET, {"d": image_dataset.id}))["keepFresh"] == {
        "keepModelsFresh": False,
        "growth": 0.5,
    }

    trained = await wait_for(
        jobs_client, (await train(jobs_client, image_dataset.id, "test-sleeper", FAST))["id"]
    )
    step = (await gql(jobs_client, STEP, {"j": trained["id"]}))["jobNextStep"]
    assert step == {
        "action": "infer",
        "title": "Run inference",
        "method": "post",
        "href": f"/models/{trained['model_id']}/next",
    }
    job = (await gql(jobs_client, RUN, {"m": trained["model_id"], "e": "infer"}))["runNextStep"]
    assert job["kind"] == "infer" and job["causedByJobId"] is None
    await gql_error(jobs_client, RUN, {"m": trained["model_id"], "e": "infer"}, code="CONFLICT")


async def test_job_and_model_pages_always_show_the_next_step_and_the_datasets_page_has_the_switch(
    jobs_client, image_dataset
):
    from tests.helpers.pages import csrf_headers

    trained = await wait_for(
        jobs_client, (await train(jobs_client, image_dataset.id, "test-sleeper", FAST))["id"]
    )
    model_id = trained["model_id"]
    job_page = parse((await jobs_client.get(f"/jobs/{trained['id']}")).text)
    step = by_id(job_page, "next-step")
    assert attr(step, "data-action") == "infer"
    assert attr(one(step, ".//form"), "action") == f"/models/{model_id}/next"
    assert (one(step, ".//button").text_content(), one(step, ".//button").get("id")) == (
        "Run inference",
        "next-step-button",
    )
    button = by_id(parse((await jobs_client.get(f"/models/{model_id}")).text), "next-step-button")
    assert (button.tag, button.text_content()) == ("button", "Run inference")

    headers = await csrf_headers(jobs_client, f"/models/{model_id}")
    form = {"expected": "infer", "_csrf_token": headers["x-csrftoken"]}
    clicked = await jobs_client.post(f"/models/{model_id}/next", data=form, follow_redirects=False)
    assert clicked.status_code == 303, clicked.text
    infer_id = int(clicked.headers["location"].rsplit("/", 1)[1])
    assert (await wait_for(jobs_client, infer_id))["kind"] == "infer"
    model_page = parse((await jobs_client.get(f"/models/{model_id}")).text)
    step = by_id(model_page, "next-step")
    assert attr(step, "data-action") == "build-index" and "Build the similarity index" in text_of(step)
    stale = await jobs_client.post(f"/models/{model_id}/next", data=form, follow_redirects=False)
    assert stale.status_code == 409 and "Build the similarity index" in stale.text

    headers = await csrf_headers(jobs_client)
    assert (
        by_id(parse((await jobs_client.get("/datasets")).text), f"keep-fresh-{image_dataset.id}") is not None
    )
    switched = await jobs_client.post(
        f"/datasets/{image_dataset.id}/keep-fresh",
        data={"keep_models_fresh": "1", "growth_percent": "25"},
        headers=headers,
    )
    assert switched.status_code == 200 and "Keep models fresh is on" in switched.text
    rest = (await jobs_client.get(f"{API}/datasets/{image_dataset.id}/keep-fresh")).json()
    assert rest["keep_models_fresh"] is True and rest["growth"] == 0.25
    # with the switch on, the index build follows the next inference by itself
    infer2 = await jobs_client.post(f"{API}/jobs", json={"kind": "infer", "model_id": model_id})
    await wait_for(jobs_client, infer2.json()["id"])
    index = await follow_up(jobs_client, infer2.json()["id"], image_dataset.id)
    await wait_for(jobs_client, index["id"])
    index_page = parse((await jobs_client.get(f"/jobs/{index['id']}")).text)
    assert f"Queued to keep models fresh after job #{infer2.json()['id']}" in text_of(
        by_id(index_page, "caused-by")
    )
    step = by_id(index_page, "next-step")
    link = by_id(step, "next-step-button")
    assert attr(step, "data-action") == "similarity" and (link.tag, link.text_content()) == (
        "a",
        "Open similarity",
    )


async def test_a_retrain_that_cannot_be_submitted_is_skipped_and_the_next_model_still_checked(
    session, settings, folder, database
):
    import tests.guided.trust_classifiers  # noqa: F401  (registers test-oracle)
    from backend.labels.classes import create_class
    from backend.storage.job_tables import Model
    from tests.helpers.jobs import make_dataset

    dataset = await make_dataset(session, settings, folder, count=8)
    only = await create_class(session, dataset.id, "only")
    from backend.storage.tables import Item

    items = list((await session.scalars(select(Item.id).where(Item.dataset_id == dataset.id))).all())
    await record_event(session, TagRequest(dataset.id, "tester", items[:5], only.id))
    for algorithm in ("test-fixed-classifier", "test-oracle"):  # both ready, trained on 1 label
        session.add(
            Model(
                name=algorithm,
                algorithm=algorithm,
                kind="classifier",
                dataset_id=dataset.id,
                state="ready",
                trained_on={"labeled_count": 1, "label_snapshot": {"mode": "current"}},
            )
        )
    await session.commit()
    await fresh.set_fresh(session, dataset.id, keep_models_fresh=True)
    # one labeled class: every retrain is refused by submit_job; neither stops the round
    assert await fresh.keep_fresh(session, settings) == []
    assert (await session.scalars(select(Job.id))).all() == []


async def test_a_classifier_whose_labels_grew_offers_retrain_as_its_next_step(
    jobs_client, image_dataset, database
):
    dataset_id = image_dataset.id
    classes = [
        (await jobs_client.post(f"{API}/datasets/{dataset_id}/classes", json={"name": n})).json()["id"]
        for n in ("a", "b")
    ]
    listed = await jobs_client.get(f"{API}/datasets/{dataset_id}/items", params={"limit": 100})
    items = [i["id"] for i in listed.json()["items"]]
    async with database.session() as s:
        for n, item in enumerate(items[:12]):
            await record_event(s, TagRequest(dataset_id, "tester", [item], classes[n % 2]))
    first = await wait_for(jobs_client, (await train(jobs_client, dataset_id, "test-fixed-classifier"))["id"])
    model_id = first["model_id"]
    infer = await jobs_client.post(f"{API}/jobs", json={"kind": "infer", "model_id": model_id})
    await wait_for(jobs_client, infer.json()["id"])
    step = (await jobs_client.get(f"{API}/models/{model_id}/next-step")).json()
    assert step["action"] == "probability"
    async with database.session() as s:  # 12 -> 15 labels: over +20 %
        await record_event(s, TagRequest(dataset_id, "tester", items[12:15], classes[0]))
    step = (await jobs_client.get(f"{API}/models/{model_id}/next-step")).json()
    assert (step["action"], step["method"]) == ("retrain", "post") and "from 12 to 15" in step["reason"]
    assert ">Retrain</button>" in (await jobs_client.get(f"/models/{model_id}")).text
    run = await jobs_client.post(f"{API}/models/{model_id}/next-step", json={"expected": "retrain"})
    assert run.status_code == 201 and run.json()["kind"] == "train", run.text
    assert (await wait_for(jobs_client, run.json()["id"]))["state"] == "succeeded"
    assert (await jobs_client.get(f"{API}/models/{model_id}/next-step")).json()["action"] == "probability"


async def test_a_chained_job_says_whether_the_server_will_still_queue_its_next_step(
    jobs_client, image_dataset, database, job_settings
):
    """``follow_up_pending`` (REST) / ``followUpPending`` (GraphQL): true from submission until the
    server's round followed the job up; the steps it queued list by ``caused_by``. A plain job on a
    dataset that does not keep models fresh is never pending."""
    from backend.jobs.runtime import enqueue_for
    from backend.jobs.submission import submit_job
    from tests.helpers.graphql import gql

    slow = {"steps": 20, "step_seconds": 0.05}
    async with database.session() as s:  # as accepting a next-actions suggestion submits it
        job = await submit_job(
            s,
            job_settings,
            enqueue_for(jobs_client.app.state),
            kind="train",
            dataset_id=image_dataset.id,
            algorithm="test-sleeper",
            parameters=slow,
            submitted_by="tester",
            chain=True,
        )
        chained = int(job.id or 0)
    plain = (await train(jobs_client, image_dataset.id, "test-sleeper", slow))["id"]
    query = """query($id: Int!) { job(id: $id) { followUpPending causedByJobId }
      jobs(causedBy: $id) { total jobs { id followUpPending } } }"""

    async def pending(job_id: int) -> tuple[bool, bool, bool]:
        rest = (await jobs_client.get(f"{API}/jobs/{job_id}")).json()["follow_up_pending"]
        listed = (await jobs_client.get(f"{API}/jobs", params={"dataset_id": image_dataset.id})).json()
        in_list = next(j for j in listed["jobs"] if j["id"] == job_id)["follow_up_pending"]
        graphql = (await gql(jobs_client, query, {"id": job_id}))["job"]["followUpPending"]
        return rest, in_list, graphql

    # before: queued or running, the server will queue its inference; the plain job nothing
    assert (await wait_for(jobs_client, chained, ("running", "succeeded")))["state"] == "running"
    assert await pending(chained) == (True, True, True)
    assert await pending(plain) == (False, False, False)

    # after: the server queued the inference (chained in turn: an extractor's index follows it)
    infer = await follow_up(jobs_client, chained, image_dataset.id)
    assert await pending(chained) == (False, False, False)
    caused = (await jobs_client.get(f"{API}/jobs", params={"caused_by": chained})).json()
    assert [j["id"] for j in caused["jobs"]] == [infer["id"]] and caused["total"] == 1
    listed = (await gql(jobs_client, query, {"id": chained}))["jobs"]
    assert [j["id"] for j in listed["jobs"]] == [infer["id"]] and listed["total"] == 1
    assert (await gql(jobs_client, query, {"id": infer["id"]}))["job"]["causedByJobId"] == chained
    assert (await wait_for(jobs_client, infer["id"]))["state"] == "succeeded"
    index = await follow_up(jobs_client, infer["id"], image_dataset.id)
    assert (await wait_for(jobs_client, index["id"]))["state"] == "succeeded"
    for job_id in (chained, infer["id"], index["id"]):  # nothing follows an index build
        assert await pending(job_id) == (False, False, False)
    assert (await wait_for(jobs_client, plain))["state"] == "succeeded"
    assert await pending(plain) == (False, False, False)
    assert (await jobs_client.get(f"{API}/jobs", params={"caused_by": plain})).json()["jobs"] == []


async def _feature_model(session: Any, dataset_id: int, algorithm: str) -> int:
    """A ready feature extractor with a finished inference that wrote vectors (rows alone: the
    retrain's choice of features reads them, nothing opens the files)."""
    model = Model(
        name=algorithm, algorithm=algorithm, kind="feature_extractor", dataset_id=dataset_id, state="ready"
    )
    session.add(model)
    await session.flush()
    outputs = {"dir": f"jobs/{algorithm}", "files": ["item_ids.npy", "vectors.npy"]}
    session.add(
        Job(
            kind="infer",
            state="succeeded",
            algorithm=algorithm,
            dataset_id=dataset_id,
            model_id=model.id,
            outputs=outputs,
            finished_at=utcnow(),
        )
    )
    await session.commit()
    return int(model.id or 0)


async def _report_chooses(session: Any, dataset_id: int, best: int, other: int, labeled: int) -> None:
    """A finished feature report that found ``best``'s vectors separate the labels best."""
    models = [{"model_id": best, "score": 0.9}, {"model_id": other, "score": 0.6}]
    summary = {"best_model_id": best, "models": models, "labeled_items": labeled, "seen_labels": labeled}
    session.add(
        Job(
            kind="feature-report",
            state="succeeded",
            algorithm="feature-report",
            dataset_id=dataset_id,
            outputs={"summary": summary},
            finished_at=utcnow(),
        )
    )
    await session.commit()


@dataclass
class _Scene:
    """A dataset of 20 items, classes a and b, two feature models with vectors (the contrastive
    encoder, the intensity descriptors), a report that chose the encoder, and a ready classifier on
    feature vectors trained on the first 10 labels."""

    dataset_id: int
    items: list[int]
    classes: tuple[int, int]
    contrastive: int
    intensity: int
    model: Model


async def _label(session: Any, scene: _Scene, ids: list[int]) -> None:
    for n, item in enumerate(ids):
        await record_event(session, TagRequest(scene.dataset_id, "tester", [item], scene.classes[n % 2]))


async def _scene(session: Any, settings: Any, folder: Any, feature_model: str) -> _Scene:
    dataset = await make_dataset(session, settings, folder, count=20)
    a, b = [(await create_class(session, dataset.id, name)).id for name in ("a", "b")]
    query = select(Item.id).where(Item.dataset_id == dataset.id).order_by(Item.id)
    items = list(await session.scalars(query))
    contrastive = await _feature_model(session, dataset.id, "contrastive")
    intensity = await _feature_model(session, dataset.id, "intensity")
    scene = _Scene(dataset.id, items, (a, b), contrastive, intensity, Model(name="", algorithm="", kind=""))
    await _label(session, scene, items[:10])
    await _report_chooses(session, dataset.id, contrastive, intensity, 10)
    first = await submit_job(
        session,
        settings,
        None,
        kind="train",
        dataset_id=dataset.id,
        algorithm="vector_classifier",
        parameters={"feature_model": 0 if feature_model == "best" else contrastive},
    )
    model = await session.get(Model, first.model_id)
    assert model is not None and model.trained_on["features"]["model_id"] == contrastive
    model.state = "ready"
    session.add(model)
    await session.commit()
    scene.model = model
    return scene


async def _features_of_retrain(session: Any, job_id: int) -> dict[str, Any]:
    retrain = await session.get(Job, job_id, populate_existing=True)
    assert retrain is not None and retrain.kind == "train" and retrain.submitted_by == fresh.FRESH_BY
    model = await session.get(Model, retrain.model_id, populate_existing=True)
    assert model is not None
    return dict(model.trained_on["features"])


@pytest.mark.parametrize("asked", ["best", "contrastive"])
async def test_a_retrain_takes_the_features_the_report_chooses_now_unless_a_model_was_named(
    session, job_settings, folder, asked
):
    """A walk saw a keep-fresh retrain of a classifier on feature vectors learn from the
    contrastive encoder after the feature report had switched to the intensity descriptors. A
    training that asked for the best features (``feature_model`` 0) asks again at its retrain and
    gets the report's choice of then; one that named its feature model keeps it."""
    scene = await _scene(session, job_settings, folder, asked)
    await _label(session, scene, scene.items[10:12])  # 12 labeled: +20 %
    await _report_chooses(session, scene.dataset_id, scene.intensity, scene.contrastive, 12)
    await fresh.set_fresh(session, scene.dataset_id, keep_models_fresh=True, growth=0.2)
    queued = await fresh.queue_due_steps(session, job_settings, [scene.dataset_id])
    assert len(queued) == 1
    features = await _features_of_retrain(session, queued[0])
    if asked == "best":
        assert (features["model_id"], features["chosen_by"]) == (scene.intensity, "feature report")
    else:
        assert (features["model_id"], features["chosen_by"]) == (scene.contrastive, "given")


async def _finish(session: Any, job_id: int, **outputs: Any) -> None:
    job = await session.get(Job, job_id, populate_existing=True)
    assert job is not None
    job.state, job.finished_at, job.outputs = "succeeded", utcnow(), outputs
    session.add(job)
    await session.commit()


async def test_a_retrain_on_the_best_features_waits_for_the_report_due_in_the_same_round(
    session, job_settings, folder
):
    """The labels doubled: the report and the retrain came due in the same round, and the retrain
    was queued first, on the report of before (the contrastive encoder); the report then chose the
    intensity descriptors (the walk's retrain learned from the encoder's vectors after the switch).
    The retrain waits for the report; the next round after it retrains on its choice."""
    scene = await _scene(session, job_settings, folder, "best")
    await _label(session, scene, scene.items[10:20])  # 20 labeled: the report is due, the retrain too
    await fresh.set_fresh(session, scene.dataset_id, keep_models_fresh=True, growth=0.2)
    queued = await fresh.queue_due_steps(session, job_settings, [scene.dataset_id])
    assert len(queued) == 1
    report = await session.get(Job, queued[0], populate_existing=True)
    assert report is not None and report.kind == "feature-report"
    assert await fresh.queue_due_steps(session, job_settings, [scene.dataset_id]) == []  # it runs

    models = [{"model_id": scene.intensity, "score": 0.9}, {"model_id": scene.contrastive, "score": 0.6}]
    summary = {"best_model_id": scene.intensity, "models": models, "labeled_items": 20, "seen_labels": 20}
    await _finish(session, queued[0], summary=summary)
    (retrain,) = await fresh.queue_due_steps(session, job_settings, [scene.dataset_id])
    features = await _features_of_retrain(session, retrain)
    assert (features["model_id"], features["chosen_by"]) == (scene.intensity, "feature report")


async def test_a_retrain_on_the_best_features_waits_for_their_inference_on_its_way(
    session, job_settings, folder
):
    """The report's best model's vectors are being computed again (the variant the report chose,
    with or without the intensity descriptors): a retrain now would learn from the vectors of
    before. It waits for them, and learns from them once they are there."""
    scene = await _scene(session, job_settings, folder, "best")
    await _label(session, scene, scene.items[10:12])
    running = Job(
        kind="infer",
        state="running",
        algorithm="contrastive",
        dataset_id=scene.dataset_id,
        model_id=scene.contrastive,
        parameters={"intensity_descriptors": "on"},
    )
    session.add(running)
    await session.commit()
    running_id = int(running.id or 0)
    await fresh.set_fresh(session, scene.dataset_id, keep_models_fresh=True, growth=0.2)
    assert await fresh.queue_due_steps(session, job_settings, [scene.dataset_id]) == []

    await _finish(session, running_id, dir="jobs/contrastive-on", files=["vectors.npy"])
    (retrain,) = await fresh.queue_due_steps(session, job_settings, [scene.dataset_id])
    features = await _features_of_retrain(session, retrain)
    assert (features["model_id"], features["inference_job"]) == (scene.contrastive, running_id)


async def _needs(settings: Any, dataset_id: int) -> list[str]:
    """The queue's needs through REST, from a server that runs no jobs (no round queues anything)."""
    from litestar.testing import AsyncTestClient

    from backend.app import create_app
    from tests.helpers.guided import queue

    async with AsyncTestClient(app=create_app(settings, run_jobs=False)) as idle:
        return list((await queue(idle, dataset_id))["needs"])


async def _applied_scene(session: Any, settings: Any, folder: Any) -> _Scene:
    """The scene of a classifier on the best features, its training ended and applied (its
    probabilities on the dataset: the queue's next classifier step is its retrain)."""
    scene = await _scene(session, settings, folder, "best")
    model_id = int(scene.model.id or 0)
    trained = await session.scalar(select(Job.id).where(Job.kind == "train", Job.model_id == model_id))
    await _finish(session, int(trained or 0))  # before any switch: nothing follows it
    probabilities = Job(
        kind="infer",
        state="succeeded",
        algorithm="vector_classifier",
        dataset_id=scene.dataset_id,
        model_id=model_id,
        outputs={"dir": "jobs/classifier", "files": ["item_ids.npy", "probabilities.npy"]},
        finished_at=utcnow(),
    )
    session.add(probabilities)
    await session.commit()
    return scene


@pytest.mark.parametrize("waits_for", ["report queued", "report due", "inference"])
async def test_the_queue_says_a_retrain_on_the_best_features_waits_and_for_what(
    session, job_settings, folder, waits_for
):
    """While keeping models fresh holds a due retrain on the report's best features (a report queued
    or due, an inference of the best model on its way), the queue said the server retrains it by
    itself, and only the server's log said why it did not. Its need says what the retrain waits
    for, and that it follows it; once nothing is on its way, it retrains by itself."""
    scene = await _applied_scene(session, job_settings, folder)
    model_id = int(scene.model.id or 0)
    await _label(session, scene, scene.items[10 : 20 if waits_for == "report due" else 12])
    await fresh.set_fresh(session, scene.dataset_id, keep_models_fresh=True, growth=0.2)
    kind, model = ("feature-report", None) if waits_for == "report queued" else ("infer", scene.contrastive)
    on_its_way = Job(kind=kind, state="queued", algorithm=kind, dataset_id=scene.dataset_id, model_id=model)
    if waits_for != "report due":
        session.add(on_its_way)
        await session.commit()
    everything = await _needs(job_settings, scene.dataset_id)
    needs = [n for n in everything if f"since classifier {model_id}" in n]
    expected = {
        "report queued": f"waits for the feature report (feature report job #{on_its_way.id} may choose",
        "report due": "waits for the feature report the server runs first",
        "inference": f"waits for the inference of model {scene.contrastive} (inference job #{on_its_way.id}",
    }[waits_for]
    assert len(needs) == 1 and expected in needs[0] and "and follows it" in needs[0], everything
    assert "by itself" not in needs[0]
    if waits_for != "report due":
        if waits_for == "report queued":
            models = [
                {"model_id": scene.contrastive, "score": 0.9},
                {"model_id": scene.intensity, "score": 0.6},
            ]
            summary = {
                "best_model_id": scene.contrastive,
                "models": models,
                "labeled_items": 12,
                "seen_labels": 12,
            }
            await _finish(session, int(on_its_way.id or 0), summary=summary)
        else:
            await _finish(session, int(on_its_way.id or 0), dir="jobs/again", files=["vectors.npy"])
        needs = await _needs(job_settings, scene.dataset_id)
        assert any(f"since classifier {model_id}" in n and "by itself" in n for n in needs), needs


async def test_keep_models_fresh_offered_beside_a_retrain_that_would_wait_says_it_waits(
    session, job_settings, folder
):
    """With the switch off, "Keep models fresh: retrain now" was offered while a feature report was
    queued, though switching on holds that retrain for the report. It says the retrain comes next,
    after the report."""
    from litestar.testing import AsyncTestClient

    from backend.app import create_app
    from tests.helpers.guided import of_kind, queue

    scene = await _applied_scene(session, job_settings, folder)
    await _label(session, scene, scene.items[10:12])
    report = Job(
        kind="feature-report", state="running", algorithm="feature-report", dataset_id=scene.dataset_id
    )
    session.add(report)
    await session.commit()
    async with AsyncTestClient(app=create_app(job_settings, run_jobs=False)) as idle:
        (offer,) = of_kind(await queue(idle, scene.dataset_id, limit=50), "keep_fresh")
    assert offer["title"].startswith("Keep models fresh: retrain next and each time"), offer
    assert f"this retrain waits for the feature report (feature report job #{report.id}" in offer["reason"]
