"""``workers.data``: the PyTorch dataset and the Keras source read folder and Tiled items alike;
training copies Tiled items locally once, inference streams them without writing anything."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from backend.datasets import service
from backend.datasets.refs import ItemReader, item_refs
from backend.images.transforms import DisplayTransform
from tests.factories import write_npy
from tests.helpers.tiled import API_KEY
from workers.data import ItemInputs, TorchItemDataset
from workers.images import prepare

pytestmark = pytest.mark.tiled
SIZE = 16


async def _mixed_refs(session, settings, tiled_server, folder):
    """Refs of a dataset made of a folder (one 32x32 array) and the Tiled ``arrays`` container."""
    write_npy(folder / "local.npy", (32, 32), seed=5)
    remote = f"{tiled_server.uri}/arrays"
    dataset, _ = await service.create_dataset(
        session, settings, "mixed", [str(folder), remote], api_keys={remote: API_KEY}
    )
    return await item_refs(session, dataset.id)


def _files_under(path) -> list:
    return sorted(p for p in path.rglob("*.npy")) if path.exists() else []


async def test_torch_dataset_reads_folder_and_tiled_items_the_same_way(
    session, settings, tiled_server, tiled_tree, folder
):
    torch = pytest.importorskip("torch")
    refs = await _mixed_refs(session, settings, tiled_server, folder)
    assert {r.source.kind for r in refs} == {"folder", "tiled"} and len(refs) == 5
    targets = {refs[0].item_id: 0, refs[1].item_id: 1}
    inputs = ItemInputs(refs, settings, size=SIZE, transform=DisplayTransform(log=True), targets=targets)
    samples = [TorchItemDataset(inputs)[i] for i in range(len(refs))]
    assert all(s["ok"] and s["image"].shape == (1, SIZE, SIZE) for s in samples)
    assert all(float(s["image"].min()) >= 0.0 and float(s["image"].max()) <= 1.0 for s in samples)
    assert [int(s["target"]) for s in samples] == [0, 1, -1, -1, -1]
    # The same pixels give the same input, whichever source they came through.
    stack = np.load(tiled_tree / "arrays" / "stack.npy")
    frame = next(i for i, r in enumerate(refs) if r.uri == "stack" and r.frame == 1)
    expected = prepare(stack[1], SIZE, DisplayTransform(log=True))
    np.testing.assert_allclose(samples[frame]["image"][0].numpy(), expected, rtol=1e-5, atol=1e-6)
    batch = next(iter(torch.utils.data.DataLoader(TorchItemDataset(inputs), batch_size=4)))
    assert batch["image"].shape == (4, 1, SIZE, SIZE) and batch["item_id"].tolist() == inputs.item_ids[:4]


async def test_training_copies_tiled_items_once_and_inference_streams_them(
    session, settings, tiled_server, folder
):
    refs = await _mixed_refs(session, settings, tiled_server, folder)
    missing = dataclasses.replace(refs[-1], item_id=-7, uri="not-there")
    streamed = ItemInputs([*refs, missing], settings, size=SIZE, copy=False)
    copy_dir = streamed.copy_dir
    before = _files_under(copy_dir)
    assert len(TorchItemDataset(streamed)) == 6
    assert TorchItemDataset(streamed)[5]["ok"] is False  # an unreadable item never fails a batch
    for i in range(5):
        streamed.load(i)
    assert _files_under(copy_dir) == before  # inference writes nothing

    messages: list[str] = []
    reader = ItemReader(settings)
    training = ItemInputs(
        [*refs, missing], settings, size=SIZE, copy=True, reader=reader, log=messages.append
    )
    training.stage()
    assert -7 not in training.item_ids and len(training) == 5 and "item -7 left out" in messages[0]
    copies = set(_files_under(copy_dir)) - set(before)
    assert len(copies) == 4  # the Tiled items only: 1 flat array + 3 stack frames
    adapter = next(a for sid, a in reader._adapters.items() if sid == refs[-1].source.id)
    received = adapter.bytes_received
    first = [training.load(i)[0] for i in range(len(training))]
    second = [training.load(i)[0] for i in range(len(training))]
    assert adapter.bytes_received == received  # every later read is local
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.ml  # loads TensorFlow (seconds); the database does not matter to it
async def test_keras_source_batches_folder_and_tiled_items(session, settings, tiled_server, folder):
    pytest.importorskip("keras")
    from workers.data import KerasItemSource

    refs = await _mixed_refs(session, settings, tiled_server, folder)
    missing = dataclasses.replace(refs[-1], item_id=-7, uri="not-there")
    targets = {r.item_id: i % 2 for i, r in enumerate(refs)}
    inputs = ItemInputs([*refs, missing], settings, size=SIZE, targets=targets)
    source = KerasItemSource(inputs, batch_size=4, target="label")
    assert len(source) == 2
    x, y = source[0]
    assert x.shape == (4, SIZE, SIZE, 1) and x.dtype == np.float32 and y.tolist() == [0, 1, 0, 1]
    x, y = source[1]
    assert x.shape == (1, SIZE, SIZE, 1) and source.batch_item_ids[1] == [refs[4].item_id]  # -7 left out
    auto = KerasItemSource(inputs, batch_size=3, target="image")
    x, y = auto[0]
    assert np.array_equal(x, y)
    torch_first = TorchItemDataset(inputs)[0]["image"][0].numpy()
    np.testing.assert_array_equal(auto[0][0][0, ..., 0], torch_first)  # both doors read alike
