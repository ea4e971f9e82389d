"""Similarity and probability labeling through GraphQL: the same domain calls as REST."""

from __future__ import annotations

from tests.guided.fixed_classifier import expected_probabilities
from tests.helpers.graphql import gql, gql_error
from tests.helpers.guided import API, add_class, classifier_model, item_ids, pca_model, tag

SIMILAR = """
query($d: Int!, $m: Int!, $items: [Int!]!, $mode: SimilarityMode!, $ex: Boolean!, $limit: Int!) {
  similarItems(datasetId: $d, modelId: $m, itemIds: $items, mode: $mode, excludeLabeled: $ex, limit: $limit) {
    queryItemIds mode exact total offset limit items { itemId similarity }
  }
}
"""

LABEL_SIMILAR = """
mutation($d: Int!, $m: Int!, $q: [Int!]!, $items: [Int!]!, $label: Int!, $shown: Int!) {
  labelSimilar(
    datasetId: $d, modelId: $m, queryItemIds: $q, itemIds: $items, labelId: $label, shown: $shown
  ) {
    kind modelId tagger tagCount parameters
  }
}
"""

CANDIDATES = """
query($d: Int!, $m: Int!, $t: Float!, $label: Int) {
  probabilityCandidates(datasetId: $d, modelId: $m, threshold: $t, labelId: $label) {
    count labelId items { itemId labelId probability }
  }
}
"""

APPLY = """
mutation($d: Int!, $m: Int!, $t: Float!, $label: Int, $all: Boolean!, $over: Boolean!) {
  applyProbability(
    datasetId: $d, modelId: $m, threshold: $t, labelId: $label, allClasses: $all, overwrite: $over
  ) {
    labeled event { kind modelId parameters }
  }
}
"""


async def test_similarity_query_and_batch_label_through_graphql(server, dataset):
    model_id = await pca_model(server, dataset.id)
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    await tag(server, dataset.id, ids[5:10], ring)
    variables = {"d": dataset.id, "m": model_id, "items": [ids[0]], "mode": "MEAN", "ex": False, "limit": 30}
    page = (await gql(server, SIMILAR, variables))["similarItems"]
    rest = (
        await server.get(
            f"{API}/datasets/{dataset.id}/similar",
            params={"model_id": model_id, "item_id": ids[0], "limit": 30},
        )
    ).json()
    assert [(r["itemId"], r["similarity"]) for r in page["items"]] == [
        (r["item_id"], r["similarity"]) for r in rest["items"]
    ]
    assert page["exact"] is True and page["total"] == 30 and page["mode"] == "MEAN"
    unlabeled = (await gql(server, SIMILAR, {**variables, "ex": True}))["similarItems"]
    assert unlabeled["total"] == 25 and not {r["itemId"] for r in unlabeled["items"]} & set(ids[5:10])

    shown = [r["itemId"] for r in unlabeled["items"][:6]]
    event = (
        await gql(
            server,
            LABEL_SIMILAR,
            {"d": dataset.id, "m": model_id, "q": [ids[0]], "items": shown[:4], "label": ring, "shown": 6},
            tagger="gq",
        )
    )["labelSimilar"]
    assert event["kind"] == "similarity" and event["modelId"] == model_id and event["tagger"] == "gq"
    assert event["tagCount"] == 4
    assert event["parameters"]["query_items"] == [ids[0]] and event["parameters"]["shown"] == 6


async def test_graphql_errors_name_the_problem(server, dataset):
    model_id = await pca_model(server, dataset.id)
    ids = await item_ids(server, dataset.id)
    base = {"d": dataset.id, "m": model_id, "items": [ids[0]], "mode": "UNION", "ex": False, "limit": 10}
    await gql_error(server, SIMILAR, {**base, "m": 9999}, code="NOT_FOUND", fragments=("model 9999",))
    await gql_error(server, SIMILAR, {**base, "items": [10**9]}, code="NOT_FOUND", fragments=("item",))
    await gql_error(server, SIMILAR, {**base, "limit": 10**6}, code="INVALID", fragments=("limit",))
    await gql_error(
        server,
        CANDIDATES,
        {"d": dataset.id, "m": model_id, "t": 0.5},
        code="NOT_FOUND",
        fragments=("no class probabilities",),
    )


async def test_probability_labeling_through_graphql_keeps_labels_unless_asked(server, dataset):
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    arc = await add_class(server, dataset.id, "arc")
    await tag(server, dataset.id, [ids[28]], arc)
    await tag(server, dataset.id, [ids[1]], ring)
    model_id = await classifier_model(server, dataset.id, [ring, arc])
    probs = expected_probabilities(30, 2)
    page = (await gql(server, CANDIDATES, {"d": dataset.id, "m": model_id, "t": 0.8, "label": ring}))[
        "probabilityCandidates"
    ]
    assert page["count"] == sum(1 for i in range(30) if probs[i, 0] >= 0.8 and i != 28)
    assert ids[28] not in {c["itemId"] for c in page["items"]}
    applied = (
        await gql(
            server,
            APPLY,
            {"d": dataset.id, "m": model_id, "t": 0.8, "label": ring, "all": False, "over": False},
        )
    )["applyProbability"]
    assert applied["labeled"] == page["count"] and applied["event"]["kind"] == "probability"
    assert applied["event"]["parameters"]["threshold"] == 0.8
    labels = {
        r["item_id"]: r["label_ids"] for r in (await server.get(f"{API}/datasets/{dataset.id}/labels")).json()
    }
    assert labels[ids[28]] == [arc]
    await gql_error(
        server,
        APPLY,
        {"d": dataset.id, "m": model_id, "t": 0.8, "label": None, "all": False, "over": False},
        code="INVALID",
        fragments=("all classes",),
    )
    everything = (
        await gql(
            server,
            APPLY,
            {"d": dataset.id, "m": model_id, "t": 0.5, "label": None, "all": True, "over": True},
        )
    )["applyProbability"]
    # every item passes; those that hold their arg-max class already are left out of the event
    held = {i: ring for i in range(30) if probs[i, 0] >= 0.8 and i != 28} | {1: ring, 28: arc}
    unchanged = sum(1 for i in range(30) if held.get(i) == [ring, arc][int(probs[i].argmax())])
    assert 0 < unchanged < 30
    parameters = everything["event"]["parameters"]
    assert everything["labeled"] == 30 - unchanged and parameters["all_classes"] is True
    assert parameters["skipped_unchanged"] == unchanged


SEEN_APPLY = """
mutation($d: Int!, $m: Int!, $label: Int!, $seen: Int!) {
  applyProbability(
    datasetId: $d, modelId: $m, threshold: 0.8, labelId: $label, overwrite: true, seenEventId: $seen
  ) {
    labeled skippedChanged
  }
}
"""


async def test_a_batch_applied_twice_by_its_own_user_does_not_blame_someone_else(server, dataset):
    """The same preview applied twice by one user (a second tab, a script run again): the refusal
    says the items changed since the preview, without claiming someone else changed them (it did)."""
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    arc = await add_class(server, dataset.id, "arc")
    await tag(server, dataset.id, [ids[28]], arc)
    await tag(server, dataset.id, [ids[1]], ring)
    model_id = await classifier_model(server, dataset.id, [ring, arc])
    page = (
        await gql(
            server,
            "query($d: Int!, $m: Int!, $label: Int) { probabilityCandidates(datasetId: $d, modelId: $m, "
            "threshold: 0.8, labelId: $label, overwrite: true) { count seenEventId } }",
            {"d": dataset.id, "m": model_id, "label": ring},
        )
    )["probabilityCandidates"]
    assert page["count"] > 0
    variables = {
        "d": dataset.id,
        "m": model_id,
        "label": ring,
        "count": page["count"],
        "seen": page["seenEventId"],
    }
    first = (await gql(server, SEEN_APPLY, variables))["applyProbability"]
    assert first == {"labeled": page["count"], "skippedChanged": 0}
    error = await gql_error(
        server,
        SEEN_APPLY,
        variables,
        code="CONFLICT",
        fragments=(f"{page['count']} were changed since you looked",),
    )
    assert "another tab" in error["message"], error
