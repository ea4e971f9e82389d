"""What the Next actions queue says in the pages: "auto-label the rest" asks first, naming the count
and the wrong labels it expects."""

from __future__ import annotations

import tests.guided.trust_classifiers  # noqa: F401  (registers the oracle classifier)
from tests.helpers.guided import of_kind, oracle, queue
from tests.html import all_of, attr, parse


def _confirmations(html: str) -> list[tuple[str, str]]:
    """(hx-confirm, expected_count) of every form that auto-labels the rest."""
    forms = all_of(parse(html), "//form[contains(@hx-post, '/next/auto-label-rest')]")
    return [
        (attr(f, "hx-confirm"), attr(f.xpath(".//input[@name='expected_count']")[0], "value")) for f in forms
    ]


async def test_auto_label_the_rest_asks_first_with_its_count_and_the_wrong_labels_expected(server, dataset):
    """One click labeled 402 items unseen on the queue's page; the probability page asks first."""
    await oracle(server, dataset.id, list(range(6, 30, 2)))
    found = await queue(server, dataset.id)
    (rest,) = of_kind(found, "auto_label_rest")
    count, accuracy = found["stopping"]["auto_label_count"], found["stopping"]["expected_accuracy"]
    assert count > 0 and accuracy is not None
    wrong = f"about {count * (1 - accuracy):.0f} wrong labels"
    for url, forms in ((f"/datasets/{dataset.id}/next", 2), (f"/datasets/{dataset.id}/next/panel", None)):
        shown = _confirmations((await server.get(url)).text)
        assert shown and len(shown) == (forms or len(shown)), (url, shown)  # the panel: its top 5
        for confirm, expected in shown:  # the suggestion's row and the stopping estimate's button
            assert f"Label the {count} remaining items at probability ≥ 0.90" in confirm, confirm
            assert f"Expected accuracy {100 * accuracy:.1f}%: {wrong}" in confirm, confirm
            assert expected == str(count)  # the count confirmed is the count labeled, or a refusal
    assert rest["params"]["count"] == count
