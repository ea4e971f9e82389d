"""An item opened from a batch page's tile goes back to that page: its "back to the gallery" led to
the label page, the batch page's query (its query item, model, threshold) lost. The address comes
in the item view's ``back`` parameter; only this dataset's own pages are followed (no open redirect)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from backend.pages.came_from import back_address
from tests.helpers.guided import add_class, classifier_model, item_ids, of_kind, oracle, pca_model, queue, tag
from tests.helpers.pages import csrf_headers
from tests.html import HtmlElement, all_of, attr, by_id, has_class, maybe_one, one, parse, text_of


def open_links(html: str) -> list[str]:
    """The hrefs of the batch tiles' "open" links, in page order."""
    tiles = f"//figure[{has_class('guided-tile')}]//a[{has_class('open')}]"
    return [attr(a, "href") for a in all_of(parse(html), tiles)]


def tile_ids(html: str) -> list[int]:
    """The item ids the batch tiles' "open" links name, in page order."""
    return [int(href.split("?")[0].rsplit("/", 1)[1]) for href in open_links(html)]


async def item_page(server, href: str) -> HtmlElement:
    response = await server.get(href)
    assert response.status_code == 200, response.text
    return parse(response.text)


async def goes_back_to(server, href: str, address: str) -> None:
    """The item view the tile opens links back to ``address``; so do its steps."""
    doc = await item_page(server, href)
    back = by_id(doc, "item-back")
    assert attr(back, "href") == address and text_of(back) == "\u2039 back to the batch"
    step = all_of(doc, "//a[@id='item-next' or @id='item-prev']")[0]
    assert attr(by_id(await item_page(server, attr(step, "href")), "item-back"), "href") == address
    # the display form sends it on too
    assert attr(one(doc, ".//form[@class='inline-form']//input[@name='back']"), "value") == address


def _similarity_label_form(query: int, label_id: int, model_id: int, shown: list[int]) -> dict:
    """The similarity page's label form as the page sends it: the first five tiles selected."""
    return {
        "items": str(query),
        "mode": "mean",
        "per_page": "24",
        "label_id": str(label_id),
        "model_id": str(model_id),
        "selected": [str(i) for i in shown[:5]],
        "shown_ids": ",".join(map(str, shown)),
    }


async def test_a_similarity_tile_goes_back_to_its_similarity_page(server, dataset):
    model_id = await pca_model(server, dataset.id)
    ids = await item_ids(server, dataset.id)
    address = f"/datasets/{dataset.id}/similar?{urlencode({'item_id': ids[4], 'per_page': 24})}"
    links = open_links((await server.get(address)).text)
    assert len(links) == 24
    await goes_back_to(server, links[3], address)

    # tiles drawn after a batch labeled in place (an HTMX POST) go back to the view the answer shows
    ring = await add_class(server, dataset.id, "ring")
    shown = [int(href.split("?")[0].rsplit("/", 1)[1]) for href in links]
    headers = await csrf_headers(server, address)
    form = _similarity_label_form(ids[4], ring, model_id, shown)
    sent_from = f"http://testserver.local{address}"
    labeled = await server.post(
        f"/datasets/{dataset.id}/similar/label", data=form, headers={**headers, "hx-current-url": sent_from}
    )
    await goes_back_to_the_view_shown(server, labeled, address)


async def goes_back_to_the_view_shown(server, answer, sent_from: str) -> None:
    """A batch applied answers with the view after it, and the address becomes that view
    (HX-Replace-Url): its tiles go back there, not to the address the batch was sent from (whose
    view offers the items decided on again)."""
    assert answer.status_code == 200, answer.text
    shown = answer.headers["hx-replace-url"]
    assert shown != sent_from and shown.startswith(sent_from.split("?")[0] + "?")
    links = open_links(answer.text)
    assert links
    await goes_back_to(server, links[0], shown)


async def test_tiles_after_a_similarity_batch_labeled_without_javascript_go_back_to_the_view_shown(
    server, dataset
):
    """A plain form POST (no HX headers) sends no page address: its tiles went back to the label page."""
    model_id = await pca_model(server, dataset.id)
    ids = await item_ids(server, dataset.id)
    address = f"/datasets/{dataset.id}/similar?{urlencode({'item_id': ids[4], 'per_page': 24})}"
    shown = tile_ids((await server.get(address)).text)
    ring = await add_class(server, dataset.id, "ring")
    headers = {k: v for k, v in (await csrf_headers(server, address)).items() if k != "hx-request"}
    form = _similarity_label_form(ids[4], ring, model_id, shown)
    labeled = await server.post(f"/datasets/{dataset.id}/similar/label", data=form, headers=headers)
    await goes_back_to_the_view_shown(server, labeled, address)


async def _probability_address(server, dataset) -> str:
    """A probability page's address: a classifier of ring and arc, one label each, at 0.5."""
    ids = await item_ids(server, dataset.id)
    ring = await add_class(server, dataset.id, "ring")
    arc = await add_class(server, dataset.id, "arc")
    await tag(server, dataset.id, [ids[28]], arc)
    await tag(server, dataset.id, [ids[1]], ring)
    model_id = await classifier_model(server, dataset.id, [ring, arc])
    return f"/datasets/{dataset.id}/probability?" + urlencode(
        {"model_id": model_id, "label": ring, "threshold": 0.5}
    )


async def _probability_batch(server, dataset) -> tuple[str, dict[str, str]]:
    """A probability page's address and its apply form's fields, one tile left selected (the others
    stay candidates, drawn in the answer)."""
    address = await _probability_address(server, dataset)
    page = (await server.get(address)).text
    form = one(parse(page), "//form[@id='apply-form']")
    fields = {attr(i, "name"): i.get("value") or "" for i in all_of(form, ".//input[@type='hidden']")}
    tiles = tile_ids(page)
    assert len(tiles) > 1
    # none clicked out by hand (guided.js's field): the tiles left out are no rejection
    chosen = {"selected": str(tiles[0]), "shown_ids": ",".join(map(str, tiles)), "hand_deselected": ""}
    return address, {**fields, **chosen}


async def test_tiles_after_a_probability_batch_applied_go_back_to_the_view_shown(server, dataset):
    address, fields = await _probability_batch(server, dataset)
    headers = await csrf_headers(server, address)
    applied = await server.post(
        f"/datasets/{dataset.id}/probability/apply",
        data=fields,
        headers={**headers, "hx-current-url": f"http://testserver.local{address}"},
    )
    await goes_back_to_the_view_shown(server, applied, address)


async def test_tiles_after_a_probability_batch_applied_without_javascript_go_back_to_the_view_shown(
    server, dataset
):
    address, fields = await _probability_batch(server, dataset)
    headers = {k: v for k, v in (await csrf_headers(server, address)).items() if k != "hx-request"}
    applied = await server.post(f"/datasets/{dataset.id}/probability/apply", data=fields, headers=headers)
    await goes_back_to_the_view_shown(server, applied, address)


async def test_a_probability_tile_goes_back_to_its_probability_page(server, dataset):
    address = await _probability_address(server, dataset)
    links = open_links((await server.get(address)).text)
    assert links
    await goes_back_to(server, links[0], address)


async def test_an_explorer_tile_goes_back_to_the_explorer_on_its_model(server, dataset):
    model_id = await pca_model(server, dataset.id)
    ids = await item_ids(server, dataset.id)
    explorer = f"/datasets/{dataset.id}/explorer?model_id={model_id}"
    headers = await csrf_headers(server, explorer)
    gallery = await server.post(
        f"/datasets/{dataset.id}/explorer/gallery",
        json={"model_id": model_id, "item_ids": ids[10:20]},
        headers={k: v for k, v in headers.items() if k != "hx-request"},  # the page asks by fetch
    )
    assert gallery.status_code == 200, gallery.text
    links = open_links(gallery.text)
    assert len(links) == 10
    await goes_back_to(server, links[0], explorer)


async def test_a_queue_batch_tile_goes_back_to_its_batch_page(server, dataset):
    _ids, _classes, _model = await oracle(server, dataset.id)
    batch = of_kind(await queue(server, dataset.id), "probability_batch")[0]
    address = f"/datasets/{dataset.id}/next/open?key={batch['key']}"
    links = open_links((await server.get(address)).text)
    assert links
    await goes_back_to(server, links[0], address)


async def test_the_label_pages_item_still_goes_back_to_the_gallery(server, dataset):
    ids = await item_ids(server, dataset.id)
    doc = await item_page(server, f"/items/{ids[2]}?per_page=24&page=1")
    back = by_id(doc, "item-back")
    assert attr(back, "href").startswith(f"/datasets/{dataset.id}/label?") and "per_page=24" in attr(
        back, "href"
    )
    assert text_of(back) == "\u2039 back to the gallery"


HOSTILE = [
    "https://evil.example/datasets/{d}/similar",
    "//evil.example/datasets/{d}/similar",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)//",
    "data:text/html,<script>alert(1)</script>",
    "http:/datasets/{d}/similar",
    "/%09/evil.example",
    "\t//evil.example",
    " /datasets/{d}/similar",
    "/datasets/{d}/similar\r\nSet-Cookie: x=1",
    "/datasets/{d}/../../evil",
    "/datasets/{d}/%2e%2e/%2e%2e/evil",
    "/datasets/{other}/similar",
    "/items/1",
    "datasets/{d}/similar",
    "",
]


async def test_a_hostile_back_is_not_followed_the_label_page_is(server, dataset):
    ids = await item_ids(server, dataset.id)
    for raw in HOSTILE:
        value = raw.format(d=dataset.id, other=dataset.id + 1)
        doc = await item_page(server, f"/items/{ids[3]}?{urlencode({'back': value})}")
        back = attr(by_id(doc, "item-back"), "href")
        assert back.startswith(f"/datasets/{dataset.id}/label?"), (value, back)
        assert text_of(by_id(doc, "item-back")) == "\u2039 back to the gallery"
        assert maybe_one(doc, ".//input[@name='back']") is None
        for step in all_of(doc, "//a[@id='item-next' or @id='item-prev']"):
            assert "back=" not in attr(step, "href"), (value, attr(step, "href"))
    # a review address wins over a back one
    review = urlencode({"review": "model_id=5", "back": f"/datasets/{dataset.id}/similar"})
    assert attr(by_id(await item_page(server, f"/items/{ids[3]}?{review}"), "item-back"), "href") == (
        f"/datasets/{dataset.id}/review?model_id=5"
    )


@pytest.mark.parametrize(
    ("raw", "wanted"),
    [
        ("/datasets/7/similar?item_id=3&page=2", "/datasets/7/similar?item_id=3&page=2"),
        ("/datasets/7/explorer#top", "/datasets/7/explorer"),
        ("/datasets/7/similar?next=//evil.example", "/datasets/7/similar?next=//evil.example"),
        ("/datasets/70/similar", None),
        ("/datasets/7", None),
        (None, None),
        (["/datasets/7/similar"], None),
        ("/datasets/7/" + "x" * 2000, None),
    ],
)
def test_back_address_keeps_this_datasets_pages_only(raw: object, wanted: str | None) -> None:
    assert back_address(raw, 7) == wanted
