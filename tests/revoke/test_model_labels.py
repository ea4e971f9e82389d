"""What "a model's labels" are: its batches, never a person's review decision that names it. The
History page offers only models with labels still theirs, its revoke rows say what their button does,
and a model page links to the revoke only when the model has labels left."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

import tests.guided.fixed_classifier  # noqa: F401  (registers the test classifier)
from backend.labels.events import KINDS
from backend.labels.revoke import MODEL_LABEL_KINDS
from backend.storage.database import Database
from tests.helpers.guided import API, add_class, classifier_model, item_ids, tag
from tests.helpers.pages import csrf_headers
from tests.helpers.revoke import labels_of, model_batch, tag_as_alice
from tests.html import all_of, by_id, fragment, maybe_one, parse, text_of


def test_every_event_kind_is_decided_model_made_or_not() -> None:
    """A new kind of event must be put on one side: a model's batch, or a person's labels."""
    people = {"manual", "import", "review", "undo"}
    assert set(MODEL_LABEL_KINDS) | people == set(KINDS) and not people & set(MODEL_LABEL_KINDS)


async def _review(server: AsyncTestClient, dataset_id: int, item: int, action: str, **extra: Any) -> None:
    body = {"item_id": item, "action": action, **extra}
    response = await server.post(f"{API}/datasets/{dataset_id}/review", json=body)
    assert response.status_code == 201, response.text


async def _scene(server: AsyncTestClient, database: Database, dataset_id: int) -> dict[str, Any]:
    """Alice labels 0-2 A by hand; the model labels 3-7 B (probability); reviewing the model's suspects,
    a person relabels 0 as B, keeps 1, and relabels 3 (the model's B) as A."""
    a, b = await add_class(server, dataset_id, "A"), await add_class(server, dataset_id, "B")
    ids = await item_ids(server, dataset_id)
    await tag_as_alice(server, dataset_id, ids[:3], a)
    await tag(server, dataset_id, ids[-1:], b)  # two classes labeled: a classifier can be trained
    model = await classifier_model(server, dataset_id, [a, b])  # a review answers a classifier's suspects
    await model_batch(database, dataset_id, ids[3:8], b, "probability", model)
    await _review(server, dataset_id, ids[0], "relabel", label_id=b, model_id=model)
    await _review(server, dataset_id, ids[1], "keep", model_id=model)
    await _review(server, dataset_id, ids[3], "relabel", label_id=a, model_id=model)
    return {"model": model, "a": a, "b": b, "ids": ids}


def _model_options(page: Any) -> dict[str, str]:
    return {o.get("value"): text_of(o) for o in all_of(page, "//form[@id='revoke-model']//option")}


async def test_revoking_a_model_on_the_history_page_keeps_review_decisions(server, dataset, database):
    s = await _scene(server, database, dataset.id)
    ids, a, b, model = s["ids"], s["a"], s["b"], str(s["model"])
    url = f"/datasets/{dataset.id}/history"
    page = parse((await server.get(url)).text)
    assert "4 item(s) from 1 event(s)" in _model_options(page)[model]  # the reviews are not counted

    headers = await csrf_headers(server, url)
    answer = await server.post(f"{url}/revoke", data={"model_id": model}, headers=headers)
    assert answer.status_code == 200, answer.text
    (section,) = fragment(answer.text)
    notice = text_of(by_id(section, "history-notice"))
    assert "Revoked the labels of 4 item(s) from 1 event(s)" in notice, notice
    assert "1 item(s) relabeled since" in notice
    labels = await labels_of(server, dataset.id)
    assert (labels[ids[0]], labels[ids[1]], labels[ids[2]]) == ([b], [a], [a])  # the person's decisions
    assert labels[ids[3]] == [a] and not any(i in labels for i in ids[4:8])  # the model's batch is back

    assert model not in _model_options(section)  # nothing of it left to revoke
    assert "nothing left to revoke" in text_of(by_id(section, "no-labeling-model"))
    again = await server.post(f"{url}/revoke", data={"model_id": model}, headers=headers)
    assert "nothing to revoke" in text_of(by_id(parse(again.text), "history-problem"))


def _button(page: Any, event_id: int) -> Any:
    return maybe_one(page, f"//table[@id='events']//tr[@data-event='{event_id}']//button")


async def test_a_revoke_row_says_what_its_button_does(server, dataset, database):
    """A revoke's button undoes the revoke: it says "Undo revoke", as the page's text tells; undoing
    that again re-applies the revoke, an undo ("Undo"); undoing a plain event is redone by "Redo"."""
    s = await _scene(server, database, dataset.id)
    url = f"/datasets/{dataset.id}/history"
    headers = await csrf_headers(server, url)
    await server.post(f"{url}/revoke", data={"model_id": s["model"]}, headers=headers)
    events = (await server.get(f"{API}/datasets/{dataset.id}/events")).json()["events"]
    revoke = events[0]["id"]
    assert events[0]["parameters"]["revoke"] == "model"
    page = parse((await server.get(url)).text)
    assert text_of(_button(page, revoke)) == "Undo revoke"
    assert "Undo revoke" in text_of(by_id(page, "revoke"))  # what the section says to press

    undo = await server.post(f"{url}/undo", data={"event_id": revoke}, headers=headers)
    assert undo.status_code == 200, undo.text
    page = parse(undo.text)
    assert _button(page, revoke) is None  # undone already
    putback = await _newest_event(server, dataset.id)
    assert text_of(_button(page, putback)) == "Undo"  # it put the labels back: undoing it takes them again
    assert (await labels_of(server, dataset.id))[s["ids"][4]] == [s["b"]]

    manual = events[-1]["id"]  # Alice's labels
    page = parse((await server.post(f"{url}/undo", data={"event_id": manual}, headers=headers)).text)
    assert text_of(_button(page, await _newest_event(server, dataset.id))) == "Redo"  # puts Alice's back


async def _newest_event(server: AsyncTestClient, dataset_id: int) -> int:
    events = (await server.get(f"{API}/datasets/{dataset_id}/events", params={"limit": 1})).json()["events"]
    return int(events[0]["id"])


async def test_the_model_page_links_to_its_labels_only_when_it_has_some(server, dataset, database):
    label = await add_class(server, dataset.id, "A")
    ids = await item_ids(server, dataset.id)
    other = await add_class(server, dataset.id, "B")
    await tag(server, dataset.id, ids[5:6], label)  # a person's labels: the classifier learns from them
    await tag(server, dataset.id, ids[6:7], other)
    model = await classifier_model(server, dataset.id, [label, other])
    page = parse((await server.get(f"/models/{model}")).text)
    assert maybe_one(page, "//*[@id='revoke-model-link']") is None  # trained: it labeled nothing yet

    await _review(server, dataset.id, ids[0], "relabel", label_id=label, model_id=model)
    page = parse((await server.get(f"/models/{model}")).text)
    assert maybe_one(page, "//*[@id='revoke-model-link']") is None  # a person's review is not its label

    await model_batch(database, dataset.id, ids[1:4], label, "similarity", model)
    page = parse((await server.get(f"/models/{model}")).text)
    link = by_id(page, "revoke-model-link")
    assert link.get("href") == f"/datasets/{dataset.id}/history?model_id={model}"
    assert "3 item(s) from 1 event(s)" in text_of(link.getparent())
