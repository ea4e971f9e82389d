"""A retry runs a job's stored parameters again: they are checked as a new job's would be, so a job
queued before a rule existed (a NaN learning rate) is refused, naming the field, not queued again.

PostgreSQL's JSON cannot hold NaN (that job could only exist on SQLite): there the stored learning
rate is one above today's maximum instead, refused the same way."""

from __future__ import annotations

from sqlalchemy import select

from backend.storage.job_tables import Job, JobLog, Model
from tests.helpers.graphql import gql_error
from tests.helpers.rest import assert_error
from tests.html import by_id, hx_csrf_token, one, parse, text_of

NAN_PARAMS = {"learning_rate": float("nan"), "epochs": 1}
ABOVE_MAXIMUM_PARAMS = {"learning_rate": 20.0, "epochs": 1}  # the schema's maximum is 10


def _stored_and_said(session) -> tuple[dict, str]:  # type: ignore[no-untyped-def]
    """The stale parameters this database can store, and what the refusal says of them."""
    if session.bind.dialect.name == "postgresql":
        return ABOVE_MAXIMUM_PARAMS, "must be at most 10"
    return NAN_PARAMS, "must be a finite number"


async def _failed_job_with_nan(session, dataset_id: int) -> int:  # type: ignore[no-untyped-def]
    """What an older version let through: a training job whose learning rate is NaN, failed."""
    params, _ = _stored_and_said(session)
    model = Model(
        name="old", algorithm="autoencoder", kind="autoencoder", parameters=params, dataset_id=dataset_id
    )
    model.state = "failed"
    session.add(model)
    await session.flush()
    job = Job(
        kind="train", algorithm="autoencoder", parameters=params, dataset_id=dataset_id, model_id=model.id
    )
    job.state, job.error = "failed", "ValueError: loss is NaN"
    session.add(job)
    await session.commit()
    assert job.id is not None
    return job.id


async def _unchanged(session, job_id: int) -> None:  # type: ignore[no-untyped-def]
    session.expire_all()
    job = await session.get(Job, job_id)
    assert (job.state, job.attempt) == ("failed", 1)
    assert (await session.get(Model, job.model_id)).state == "failed"
    logs = (await session.scalars(select(JobLog.message).where(JobLog.job_id == job_id))).all()
    assert not [m for m in logs if m.startswith("retry")]


async def test_a_retry_of_stored_parameters_that_no_longer_pass_is_refused(
    jobs_client, image_dataset, session
):
    job_id = await _failed_job_with_nan(session, image_dataset.id)
    said = _stored_and_said(session)[1]

    response = await jobs_client.post(f"/api/v1/jobs/{job_id}/retry")
    error = assert_error(response, 400, "INVALID", "learning rate", said)
    assert [e["field"] for e in error["details"]["errors"]] == ["learning_rate"]
    await _unchanged(session, job_id)

    retry = "mutation($id: Int!) { retryJob(id: $id) { state attempt } }"
    await gql_error(jobs_client, retry, {"id": job_id}, code="INVALID", fragments=(said,))
    await _unchanged(session, job_id)


async def test_the_job_page_shows_the_refused_retry(jobs_client, image_dataset, session):
    job_id = await _failed_job_with_nan(session, image_dataset.id)
    said = _stored_and_said(session)[1]
    page = await jobs_client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert by_id(parse(page.text), "retry-job") is not None
    token = hx_csrf_token(page.text, "//div[@hx-headers][.//*[@id='job-live']]")

    htmx = await jobs_client.post(
        f"/jobs/{job_id}/retry", headers={"HX-Request": "true", "x-csrftoken": token}
    )
    assert htmx.status_code == 400
    assert said in htmx.text
    plain = await jobs_client.post(f"/jobs/{job_id}/retry", headers={"x-csrftoken": token})
    assert plain.status_code == 400
    assert said in text_of(one(parse(plain.text), "//body"))
    await _unchanged(session, job_id)
