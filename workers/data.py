"""Items of any source (folder or Tiled) as model inputs, for PyTorch and for Keras, read the same way.

Every image goes through ``ItemReader`` (the source adapters) and ``workers.images.prepare`` (the
pages' display transform, then a square ``size`` x ``size`` float32 in [0, 1]), so a model sees
what a person saw while labeling, whichever source the item came from.

Training reads each item many times: ``ItemInputs(..., copy=True)`` copies remote (Tiled) items
into the local cache once (``settings.cache_dir / "remote-items"``, the strided read as ``.npy``,
before transforms, so other transforms reuse it) and reads the copy afterwards; ``stage()`` does
the copying up front, in threads, and leaves out items that cannot be read. Inference reads each
item once: ``copy=False`` streams from the source and writes nothing. Folder items are local
already and are never copied.

API
---
::

    from workers.data import ItemInputs, TorchItemDataset, KerasItemSource, training_inputs

    inputs = training_inputs(ctx, ctx.items, size=64, transform=transform_from(ctx.params),
                             targets={item_id: class_index, ...})   # staged local copy
    inputs = inference_inputs(ctx, ctx.items, size=64, transform=...)  # streaming, no copy

    inputs.load(i)      -> (image (size, size) float32, target int (-1: none), item id); raises
                           ``LabelwiseError`` when the item cannot be read
    inputs.item_ids     -> the item ids, in order (after ``stage()``: the readable ones)

    # PyTorch: a map-style dataset; use with torch.utils.data.DataLoader (any num_workers)
    ds = TorchItemDataset(inputs)
    ds[i] -> {"image": FloatTensor (1, size, size), "target": int64, "item_id": int64, "ok": bool}
    # an unreadable item gives a zero image and ok=False (logged), so a batch never fails

    # Keras 3: a keras.utils.PyDataset giving batches (channels last)
    src = KerasItemSource(inputs, batch_size=32, target="label" | "image" | None, shuffle=False)
    src[i] -> x (B, size, size, 1) float32, or (x, y): y = targets (B,) int64 for "label",
              y = x for "image" (autoencoders); unreadable items are left out of their batch and
              src.batch_item_ids[i] says which items batch i holds (for ``predict``).

torch and keras are imported only when their class is used: a torch job never loads TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.datasets.refs import ItemReader, ItemRef
from backend.errors import LabelwiseError
from backend.images.transforms import DisplayTransform
from backend.settings import Settings
from backend.storage import npy
from workers.images import prepare

if TYPE_CHECKING:
    from workers.context import JobContext

STAGE_THREADS = 8  # remote reads wait on the network, not the CPU
LOCAL_KINDS = frozenset({"folder"})


def read_stride(ref: ItemRef, size: int) -> int:
    """Read big images strided at the source, keeping 4x the model's input size (as ``load_batch``)."""
    if not ref.height or not ref.width:
        return 1
    return max(1, min(ref.height, ref.width) // (size * 4))


class ItemInputs:
    """The shared core: item refs -> prepared images, with an optional local copy of remote items."""

    def __init__(
        self,
        refs: Sequence[ItemRef],
        settings: Settings,
        *,
        size: int,
        transform: DisplayTransform | None = None,
        targets: dict[int, int] | None = None,
        copy: bool = False,
        reader: ItemReader | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.refs = list(refs)
        self.settings = settings
        self.size = size
        self.transform = transform or DisplayTransform()
        self.targets = targets or {}
        self.copy = copy
        self.reader = reader or ItemReader(settings)
        self.log = log or (lambda message: None)
        self.copy_dir = Path(settings.cache_dir) / "remote-items"

    def __len__(self) -> int:
        return len(self.refs)

    @property
    def item_ids(self) -> list[int]:
        return [ref.item_id for ref in self.refs]

    def copy_path(self, ref: ItemRef, stride: int) -> Path:
        digest = hashlib.sha256(f"{ref.source.uri}\n{ref.uri}".encode()).hexdigest()[:24]
        return self.copy_dir / str(ref.source.id) / digest[:2] / f"{digest}_{ref.frame}_s{stride}.npy"

    def raw(self, ref: ItemRef) -> np.ndarray:
        """The item's (strided) pixels: from the local copy when copying, else from its source."""
        stride = read_stride(ref, self.size)
        if not self.copy or ref.source.kind in LOCAL_KINDS:
            return self.reader.read(ref, stride=stride)
        path = self.copy_path(ref, stride)
        try:
            return npy.load(path)
        except (FileNotFoundError, ValueError, EOFError, OSError):
            pass  # not copied yet, or a copy cut short: read it again
        image = self.reader.read(ref, stride=stride)
        _save_atomic(path, image)
        return image

    def load(self, index: int) -> tuple[np.ndarray, int, int]:
        ref = self.refs[index]
        pixels = self.raw(ref)
        mask = self.reader.mask(ref, pixels, read_stride(ref, self.size))
        image = prepare(pixels, self.size, self.transform, mask)
        return image, self.targets.get(ref.item_id, -1), ref.item_id

    def stage(
        self,
        *,
        check: Callable[[], None] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> ItemInputs:
        """Copy remote items locally now (each read once); leave out and log those that fail.

        ``check`` is called between items (``ctx.check_canceled``), ``progress`` with (done, total).
        """
        if not self.copy:
            return self
        remote = [i for i, ref in enumerate(self.refs) if ref.source.kind not in LOCAL_KINDS]
        failed: set[int] = set()

        def one(index: int) -> None:
            if check:
                check()
            try:
                self.raw(self.refs[index])
            except (LabelwiseError, OSError, ValueError) as exc:
                failed.add(index)
                self.log(f"item {self.refs[index].item_id} left out: {getattr(exc, 'message', exc)}")

        if remote:
            with ThreadPoolExecutor(min(STAGE_THREADS, len(remote))) as pool:
                for done, _ in enumerate(pool.map(one, remote), 1):
                    if progress:
                        progress(done, len(remote))
        if failed:
            self.refs = [ref for i, ref in enumerate(self.refs) if i not in failed]
        return self


def _save_atomic(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, np.asarray(image, dtype=np.float32))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def training_inputs(
    ctx: JobContext,
    refs: Sequence[ItemRef],
    *,
    size: int,
    transform: DisplayTransform,
    targets: dict[int, int] | None = None,
) -> ItemInputs:
    """Inputs for training: remote items copied locally first (reported as progress), failures left out."""
    inputs = ItemInputs(
        refs, ctx.settings, size=size, transform=transform, targets=targets, copy=True, reader=ctx.reader,
        log=lambda message: ctx.log(message, level="warning"),
    )  # fmt: skip
    remote = sum(1 for ref in inputs.refs if ref.source.kind not in LOCAL_KINDS)
    if remote:
        ctx.log(f"copying {remote} remote items into the local cache")
    return inputs.stage(check=ctx.check_canceled, progress=lambda done, total: ctx.progress(done, total))


def inference_inputs(
    ctx: JobContext, refs: Sequence[ItemRef], *, size: int, transform: DisplayTransform
) -> ItemInputs:
    """Inputs for inference: every item streamed once from its source, nothing copied."""
    return ItemInputs(
        refs, ctx.settings, size=size, transform=transform, copy=False, reader=ctx.reader,
        log=lambda message: ctx.log(message, level="warning"),
    )  # fmt: skip


class TorchItemDataset:
    """A map-style PyTorch dataset over ``ItemInputs`` (torch is imported on first use)."""

    def __init__(self, inputs: ItemInputs) -> None:
        self.inputs = inputs

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        try:
            image, target, item_id = self.inputs.load(index)
            ok = True
        except (LabelwiseError, OSError, ValueError) as exc:
            ref = self.inputs.refs[index]
            self.inputs.log(f"item {ref.item_id} unreadable: {getattr(exc, 'message', exc)}")
            image = np.zeros((self.inputs.size, self.inputs.size), np.float32)
            target, item_id, ok = self.inputs.targets.get(ref.item_id, -1), ref.item_id, False
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None],
            "target": torch.tensor(target, dtype=torch.int64),
            "item_id": torch.tensor(item_id, dtype=torch.int64),
            "ok": ok,
        }


def _keras_item_source() -> type:
    import keras

    class KerasItemSource(keras.utils.PyDataset):
        """Batches of ``ItemInputs`` for Keras 3 ``fit`` / ``predict`` (channels last)."""

        def __init__(
            self,
            inputs: ItemInputs,
            batch_size: int = 32,
            *,
            target: str | None = "label",
            shuffle: bool = False,
            seed: int = 0,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            if target not in ("label", "image", None):
                raise ValueError(f"target must be 'label', 'image' or None, got {target!r}")
            self.inputs = inputs
            self.batch_size = max(1, int(batch_size))
            self.target = target
            self.shuffle = shuffle
            self.rng = np.random.default_rng(seed)
            self.order = np.arange(len(inputs))
            if shuffle:
                self.rng.shuffle(self.order)
            self.batch_item_ids: dict[int, list[int]] = {}

        def __len__(self) -> int:
            return -(-len(self.inputs) // self.batch_size)

        def __getitem__(self, index: int) -> Any:
            rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
            images, targets, ids = [], [], []
            for row in rows:
                try:
                    image, target, item_id = self.inputs.load(int(row))
                except (LabelwiseError, OSError, ValueError) as exc:
                    ref = self.inputs.refs[int(row)]
                    self.inputs.log(f"item {ref.item_id} left out: {getattr(exc, 'message', exc)}")
                    continue
                images.append(image)
                targets.append(target)
                ids.append(item_id)
            self.batch_item_ids[index] = ids
            size = self.inputs.size
            x = np.stack(images)[..., None] if images else np.zeros((0, size, size, 1), np.float32)
            if self.target == "label":
                return x, np.asarray(targets, dtype=np.int64)
            if self.target == "image":
                return x, x
            return x

        def on_epoch_end(self) -> None:
            if self.shuffle:
                self.rng.shuffle(self.order)

    KerasItemSource.__module__ = __name__
    return KerasItemSource


_lazy: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    """``KerasItemSource`` is built on first access, so importing this module never loads Keras."""
    if name == "KerasItemSource":
        if name not in _lazy:
            _lazy[name] = _keras_item_source()
        return _lazy[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
