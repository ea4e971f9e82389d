"""Classifier helpers shared by the tests: small settings, demo datasets with known classes, labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from backend.datasets.refs import item_refs
from backend.datasets.service import create_dataset
from backend.demo import DEMO_CLASSES, generate_demo, read_ground_truth
from backend.labels.classes import create_class
from backend.labels.events import TagChange, record_changes
from backend.settings import Settings
from backend.storage.tables import Dataset

# Small, quick settings: 32 px inputs, the small network, a few epochs.
TINY = {
    "architecture": "small_cnn",
    "image_size": 32,
    "epochs": 12,
    "batch_size": 16,
    "validation_fraction": 0.25,
    "learning_rate": 0.003,
    "augment_hflip": True,
    "augment_vflip": True,
}


class LabeledDemo:
    """A demo dataset, its classes by name and its ground truth by item id."""

    def __init__(self, dataset: Dataset, classes: dict[str, int], truth: dict[int, str]) -> None:
        self.dataset = dataset
        self.id: int = dataset.id  # type: ignore[assignment]
        self.classes = classes
        self.truth = truth

    def items_of(self, name: str) -> list[int]:
        return sorted(i for i, label in self.truth.items() if label == name)


async def demo_dataset(
    session: AsyncSession,
    settings: Settings,
    folder: Path,
    count: int = 72,
    seed: int = 0,
    class_names: tuple[str, ...] | None = None,
    name: str = "demo",
    size: int = 32,
) -> LabeledDemo:
    """``count`` synthetic scattering images as a dataset with the demo classes (or some)."""
    images = folder / name / "images"
    truth_by_file = read_ground_truth(generate_demo(images, count, size=size, seed=seed))
    dataset, _ = await create_dataset(session, settings, f"{name}-{folder.name}", [str(images)])
    assert dataset.id is not None
    classes = {}
    for class_name, color, hotkey in DEMO_CLASSES:
        if class_names is None or class_name in class_names:
            classes[class_name] = (await create_class(session, dataset.id, class_name, color, hotkey)).id
    refs = await item_refs(session, dataset.id)
    truth = {ref.item_id: truth_by_file[Path(ref.uri).name] for ref in refs}
    return LabeledDemo(dataset, classes, truth)


async def label(
    session: AsyncSession,
    demo: LabeledDemo,
    item_ids: list[int],
    *,
    tagger: str = "tester",
    name: str | None = None,
) -> None:
    """Label items with their ground truth (or all with class ``name``) in one tag event."""
    changes = [
        TagChange(i, "set", demo.classes[name or demo.truth[i]])
        for i in item_ids
        if (name or demo.truth[i]) in demo.classes
    ]
    await record_changes(session, demo.id, tagger=tagger, kind="manual", changes=changes)


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    """Fast heartbeats, but a patient reaper: the first job of a process imports tensorflow, which on a
    busy machine can hold the interpreter for seconds (these tests are not about lost workers)."""
    return settings.model_copy(update={"heartbeat_seconds": 0.1, "heartbeat_timeout_seconds": 30})
