"""A mutation document remembered after an admin sent it (documents.py) is still refused to a viewer."""

from __future__ import annotations

from backend.api.graphql import documents

DELETE = "mutation($id: Int!) { deleteDataset(id: $id) }"


async def test_a_remembered_mutation_still_checks_the_role(client, accounts):
    documents.clear()
    admin = await client.post(
        "/graphql", json={"query": DELETE, "variables": {"id": 999}}, headers=accounts["admin"].headers
    )
    assert [e["extensions"]["code"] for e in admin.json()["errors"]] == ["NOT_FOUND"], admin.json()
    assert any(key[1] == DELETE for key in documents._VALID)  # validated and remembered
    viewer = await client.post(
        "/graphql", json={"query": DELETE, "variables": {"id": 999}}, headers=accounts["viewer"].headers
    )
    assert viewer.status_code == 403
    assert [e["extensions"]["code"] for e in viewer.json()["errors"]] == ["FORBIDDEN"]
