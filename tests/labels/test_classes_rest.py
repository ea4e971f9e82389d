"""REST: label classes (create, list, edit, delete) and their refusals."""

from __future__ import annotations

from tests.helpers.rest import API, add_class, assert_error, create_dataset, item_ids, snapshot, tag


async def test_classes_are_created_listed_and_read_in_order(client, folder):
    dataset = (await create_dataset(client, folder))["dataset"]
    cat = await add_class(client, dataset["id"], "cat", color="#FF0000", hotkey="C")
    dog = await add_class(client, dataset["id"], "dog")
    assert (cat["name"], cat["color"], cat["hotkey"], cat["position"]) == ("cat", "#ff0000", "c", 0)
    assert dog["color"].startswith("#") and dog["hotkey"] is None and dog["position"] == 1
    listed = (await client.get(f"{API}/datasets/{dataset['id']}/classes")).json()
    assert [c["id"] for c in listed] == [cat["id"], dog["id"]]
    assert (await client.get(f"{API}/classes/{cat['id']}")).json() == cat


async def test_class_is_renamed_recolored_and_rekeyed_and_hotkey_cleared(client, folder):
    dataset = (await create_dataset(client, folder))["dataset"]
    cat = await add_class(client, dataset["id"], "cat", hotkey="c")
    response = await client.patch(f"{API}/classes/{cat['id']}", json={"name": "feline", "color": "#00ff00"})
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["color"], response.json()["hotkey"]) == (
        "feline",
        "#00ff00",
        "c",
    )
    response = await client.patch(f"{API}/classes/{cat['id']}", json={"hotkey": "f"})
    assert response.json()["hotkey"] == "f"
    response = await client.patch(f"{API}/classes/{cat['id']}", json={"hotkey": None})
    assert response.json()["hotkey"] is None and response.json()["name"] == "feline"


async def test_invalid_colors_and_hotkeys_are_400_and_change_nothing(client, folder):
    dataset = (await create_dataset(client, folder))["dataset"]
    cat = await add_class(client, dataset["id"], "cat", color="#123456", hotkey="c")
    before = await snapshot(client)
    base = f"{API}/datasets/{dataset['id']}/classes"
    for body, fragment in [
        ({"name": "x", "color": "red"}, "color"),
        ({"name": "x", "color": "#12345"}, "color"),
        ({"name": "x", "color": "#gggggg"}, "color"),
        ({"name": "x", "hotkey": "ab"}, "hotkey"),
        ({"name": "x", "hotkey": "é"}, "hotkey"),
        ({"name": "x", "hotkey": "z"}, "reserved"),
        ({"name": "x", "hotkey": "?"}, "hotkey"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "100"),
        ({"color": "#123456"}, "name"),
    ]:
        assert_error(await client.post(base, json=body), 400, "INVALID", fragment)
    for body, fragment in [
        ({"color": "blue"}, "color"),
        ({"hotkey": "n"}, "reserved"),
        ({"name": " "}, "name"),
    ]:
        assert_error(await client.patch(f"{API}/classes/{cat['id']}", json=body), 400, "INVALID", fragment)
    assert await snapshot(client) == before


async def test_duplicate_class_names_and_hotkeys_are_409(client, folder):
    dataset = (await create_dataset(client, folder))["dataset"]
    cat = await add_class(client, dataset["id"], "cat", hotkey="c")
    dog = await add_class(client, dataset["id"], "dog", hotkey="d")
    before = await snapshot(client)
    base = f"{API}/datasets/{dataset['id']}/classes"
    assert_error(await client.post(base, json={"name": "Cat"}), 409, "CONFLICT", "already exists")
    assert_error(await client.post(base, json={"name": "bird", "hotkey": "c"}), 409, "CONFLICT", "hotkey")
    response = await client.patch(f"{API}/classes/{dog['id']}", json={"name": "CAT"})
    assert_error(response, 409, "CONFLICT", "already exists")
    response = await client.patch(f"{API}/classes/{dog['id']}", json={"hotkey": "c"})
    assert_error(response, 409, "CONFLICT", "hotkey")
    assert await snapshot(client) == before
    assert (await client.get(f"{API}/classes/{cat['id']}")).json()["hotkey"] == "c"


async def test_deleting_a_class_unlabels_its_items_by_one_recorded_event(client, folder):
    dataset = (await create_dataset(client, folder, count=4))["dataset"]
    ids = await item_ids(client, dataset["id"])
    cat, dog = await add_class(client, dataset["id"], "cat"), await add_class(client, dataset["id"], "dog")
    await tag(client, dataset["id"], ids[:2], cat["id"])
    await tag(client, dataset["id"], ids[2:3], dog["id"])
    response = await client.delete(f"{API}/classes/{cat['id']}", headers={"X-Labelwise-Tagger": "ann"})
    assert response.status_code == 200, response.text
    event_id = response.json()["unlabel_event_id"]
    assert response.json()["deleted_class_id"] == cat["id"] and event_id is not None
    event = (await client.get(f"{API}/events/{event_id}")).json()
    assert (event["event"]["kind"], event["event"]["tagger"], event["event"]["tag_count"]) == (
        "review",
        "ann",
        2,
    )
    labels = (await client.get(f"{API}/datasets/{dataset['id']}/labels")).json()
    assert labels == [{"item_id": ids[2], "label_ids": [dog["id"]]}]
    assert [c["id"] for c in (await client.get(f"{API}/datasets/{dataset['id']}/classes")).json()] == [
        dog["id"]
    ]
    assert_error(await client.get(f"{API}/classes/{cat['id']}"), 404, "NOT_FOUND")
    # a deleted class's name is free again
    await add_class(client, dataset["id"], "cat")
    # a class nobody holds is deleted without an event
    response = await client.delete(f"{API}/classes/{dog['id']}")
    assert response.status_code == 200
    assert response.json()["unlabel_event_id"] is not None  # dog was held by one item
    bird = await add_class(client, dataset["id"], "bird")
    assert (await client.delete(f"{API}/classes/{bird['id']}")).json()["unlabel_event_id"] is None


async def test_unknown_class_ids_are_404(client, folder):
    dataset = (await create_dataset(client, folder))["dataset"]
    before = await snapshot(client)
    assert_error(await client.get(f"{API}/classes/999999"), 404, "NOT_FOUND", "999999")
    assert_error(await client.patch(f"{API}/classes/999999", json={"name": "x"}), 404, "NOT_FOUND")
    assert_error(await client.delete(f"{API}/classes/999999"), 404, "NOT_FOUND")
    response = await client.post(f"{API}/datasets/999999/classes", json={"name": "x"})
    assert_error(response, 404, "NOT_FOUND")
    assert await snapshot(client) == before
    assert (await client.get(f"{API}/datasets/{dataset['id']}/classes")).json() == []
