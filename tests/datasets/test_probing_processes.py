"""A big folder is probed by a pool of processes: a process that dies (killed for memory, a decoder
that crashes on a file) must not turn the scan into a 500 or a half-made dataset.

The pool's processes are spawned: the fake probes below reach them by reference (the pool pickles
the module's ``_probe_chunk``, patched to one of them, and a process imports this module)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.datasets import ingest, service
from backend.errors import Unreadable
from backend.sources import SourceEntry
from backend.storage.tables import Dataset, Item
from tests.factories import image_folder

REAL_PROBE = ingest._probe_chunk
IMPORTED_BY = os.getpid()  # a spawned process imports this module itself; a forked one inherits it


def _says_how_it_started(args) -> list[SourceEntry]:  # type: ignore[no-untyped-def]
    """The real probe, leaving a note whether this process imported this module itself."""
    (Path(args[0]).parent / f"started-{os.getpid()}").write_text(str(os.getpid() == IMPORTED_BY))
    return REAL_PROBE(args)


def _dies_once(args) -> list[SourceEntry]:  # type: ignore[no-untyped-def]
    """The real probe, except that the first process to take the chunk of img_002 dies (a marker
    file beside the images says it has)."""
    root, _roots, rels, _max, _limits = args
    marker = Path(root).parent / "died"
    if any("img_002" in rel for rel in rels) and not marker.exists():
        marker.write_text("once")
        os._exit(9)
    return REAL_PROBE(args)


def _always_dies(args) -> list[SourceEntry]:  # type: ignore[no-untyped-def]
    if any("img_002" in rel for rel in args[2]):
        os._exit(9)
    return REAL_PROBE(args)


async def _uris(session, dataset_id: int) -> list[str]:
    query = select(Item.uri).where(Item.dataset_id == dataset_id).order_by(Item.position)
    return [uri for (uri,) in (await session.execute(query)).all()]


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(ingest, "PARALLEL_THRESHOLD", 4)
    monkeypatch.setattr(ingest, "CHUNK", 2)


async def test_a_probing_process_that_dies_once_costs_nothing(
    session, settings, folder, small_chunks, monkeypatch, caplog
):
    image_folder(folder, count=8)
    monkeypatch.setattr(ingest, "_probe_chunk", _dies_once)
    with caplog.at_level(logging.WARNING, logger="labelwise.datasets"):
        dataset, report = await service.create_dataset(session, settings, "resilient", [str(folder)])
    assert (folder.parent / "died").exists()  # a process did die
    assert report.added == 8 and report.unreadable == 0
    assert any("probing process died" in r.getMessage() for r in caplog.records)
    again, _ = await service.create_dataset(session, settings, "plain", [str(folder)])
    assert await _uris(session, dataset.id) == await _uris(session, again.id)  # as an undisturbed scan


async def test_a_chunk_whose_process_dies_twice_is_named_and_nothing_is_made(
    session, settings, folder, small_chunks, monkeypatch
):
    image_folder(folder, count=8)
    monkeypatch.setattr(ingest, "_probe_chunk", _always_dies)
    before = (await session.execute(select(func.count()).select_from(Dataset))).scalar_one()
    with pytest.raises(Unreadable) as refused:
        await service.create_dataset(session, settings, "crashing", [str(folder)])
    assert "img_002" in str(refused.value) and "nothing was added" in str(refused.value)
    assert (await session.execute(select(func.count()).select_from(Dataset))).scalar_one() == before


async def test_the_probing_processes_are_spawned_not_forked(
    session, settings, folder, small_chunks, monkeypatch
):
    """The server and the in-process worker run threads; a process forked while one of them holds
    a lock can wait on it for good (a classifier job hung so in cleanlab's forked pool)."""
    image_folder(folder, count=8)
    monkeypatch.setattr(ingest, "_probe_chunk", _says_how_it_started)
    _dataset, report = await service.create_dataset(session, settings, "spawned", [str(folder)])
    notes = [p.read_text() for p in folder.parent.glob("started-*")]
    assert report.added == 8 and notes and set(notes) == {"True"}, notes
