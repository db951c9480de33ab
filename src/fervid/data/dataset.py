"""``ClipDataset``: clips of a prepared directory as ``(clip (3, T, H, W) float32, label)``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from fervid.data.manifest import ClipRecord, read_manifest, read_meta
from fervid.data.sampling import MODES, sample_indices, view_indices
from fervid.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    resolve_augment,
    to_model_input,
    to_model_views,
    train_transform,
)
from fervid.errors import FervidError

MAPPED = 4096  # clips a dataset keeps mapped (each is one memory map; Linux allows ~65k per process)


class ClipDataset(Dataset):
    """Clips of a directory written by ``fervid prepare``.

    Args:
        prepared_dir: the prepared directory (``meta.json``, ``manifest.csv``, ``clips/``).
        indices: manifest row indices to use (a fold's train or test side); ``None`` = all rows.
        num_frames: frames per clip (T).
        train: training mode: random segment jitter (for ``"uniform"``/``"segment"``
            sampling; ``"last"`` stays the last frames) and augmentation with one parameter set
            per clip. Evaluation is deterministic and never augments.
        sampling: ``"uniform"``, ``"last"`` or ``"segment"`` (see :mod:`fervid.data.sampling`).
        image_size: output side S; ``None`` keeps the stored size.
        mean, std: normalisation, per RGB channel, for [0, 1] pixels.
        augment: strengths merged over the defaults of
            :data:`fervid.data.transforms.DEFAULT_AUGMENT` (training only); ``False`` = none
            (temporal jitter stays).
        views, crops: evaluation only: test-time views, ``views`` evenly spaced temporal clips
            (:func:`~fervid.data.sampling.view_indices`) × ``crops`` spatial crops (1 or 3,
            :func:`~fervid.data.transforms.to_model_views`).

    Items are ``(float32 (3, T, S, S), int label)``, or with several views
    ``(float32 (views * crops, 3, T, S, S), int label)`` (view-major), the label indexing :attr:`classes`
    (``meta.json``'s ``classes``). Random draws come from torch's generator, which DataLoader
    seeds per worker, so runs are reproducible under ``torch.manual_seed``.
    """

    def __init__(
        self,
        prepared_dir: str | os.PathLike,
        indices: Sequence[int] | np.ndarray | None = None,
        num_frames: int = 16,
        *,
        train: bool = False,
        sampling: str = "uniform",
        image_size: int | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        augment: Mapping | bool | None = None,
        views: int = 1,
        crops: int = 1,
    ) -> None:
        if sampling not in MODES:
            raise FervidError(f"unknown temporal sampling {sampling!r}; choose one of {', '.join(MODES)}")
        if num_frames < 1:
            raise FervidError(f"num_frames must be at least 1, got {num_frames}")
        self.root = Path(prepared_dir)
        meta = read_meta(self.root)
        self.classes: list[str] = list(meta.get("classes") or [])
        if not self.classes:
            raise FervidError(f"{self.root / 'meta.json'}: no classes listed")
        records = read_manifest(self.root)
        if indices is not None:
            indices = np.asarray(indices, dtype=np.int64).reshape(-1)
            bad = indices[(indices < 0) | (indices >= len(records))]
            if bad.size:
                raise FervidError(
                    f"{self.root / 'manifest.csv'}: index {int(bad[0])} out of range for {len(records)} clips"
                )
            records = [records[i] for i in indices]
        self.records: list[ClipRecord] = records
        index = {c: i for i, c in enumerate(self.classes)}
        unknown = sorted({r.label for r in records} - set(index))
        if unknown:
            raise FervidError(
                f"{self.root / 'manifest.csv'}: label(s) {', '.join(unknown)} not among meta.json classes"
            )
        self.labels = np.array([index[r.label] for r in records], dtype=np.int64)
        self.num_frames = int(num_frames)
        self.train = bool(train)
        self.sampling = sampling
        self.image_size = image_size
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.augment = resolve_augment(augment) if self.train else None
        self.views, self.crops = int(views), int(crops)
        self._mapped: dict[int, np.ndarray] = {}
        if self.views * self.crops > 1:
            if self.train:
                raise FervidError("test views and crops are for evaluation, not training")
            view_indices(self.num_frames, self.num_frames, sampling, self.views)  # checks views and sampling
            if self.crops not in (1, 3):
                raise FervidError(f"test crops must be 1 or 3, got {self.crops}")

    def __len__(self) -> int:
        return len(self.records)

    def clip_path(self, i: int) -> Path:
        r = self.records[i]
        return self.root / (r.file or f"clips/{r.clip_id}.npy")

    def load(self, i: int) -> np.ndarray:
        """The whole stored clip ``i``: uint8 ``(n_frames, H, W, 3)``, memory-mapped.

        The first :data:`MAPPED` clips opened stay mapped: opening one (file, header, map) took
        a third of a small training item's time, and a small set's items are read every epoch.
        """
        arr = self._mapped.get(i)
        if arr is not None:
            return arr
        arr = self._open(i)
        if len(self._mapped) < MAPPED:
            self._mapped[i] = arr
        return arr

    def __getstate__(self) -> dict:  # DataLoader workers map their own (a pickled map is a copy)
        return {**self.__dict__, "_mapped": {}}

    def _open(self, i: int) -> np.ndarray:
        path = self.clip_path(i)
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise FervidError(f"{path}: cannot read clip ({type(e).__name__}: {e})") from None
        if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8 or arr.shape[0] == 0:
            raise FervidError(f"{path}: expected a uint8 (T, H, W, 3) clip, found {arr.dtype} {arr.shape}")
        return arr

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        # A training item's seed comes from torch's RNG: seeded per DataLoader worker, unlike numpy's.
        return self.item(i, seed=int(torch.randint(0, 2**62, (1,)).item()) if self.train else None)

    def item(self, i: int, *, seed: int | None) -> tuple[torch.Tensor, int]:
        """Clip ``i`` as ``((3, T, S, S) float32, label)``; a training item's random choices
        (segment jitter, augmentation) come from ``seed`` alone, not from any global RNG."""
        arr = self.load(i)
        if self.views * self.crops > 1:
            return self._views(i, arr), int(self.labels[i])
        rng = np.random.default_rng(seed) if self.train else None
        mode = "segment" if self.train and self.sampling != "last" else self.sampling
        frames = self._read(i, arr, sample_indices(arr.shape[0], self.num_frames, mode, rng=rng))
        if self.train:
            clip = train_transform(
                frames, rng=rng, augment=self.augment, image_size=self.image_size, mean=self.mean, std=self.std
            )
        else:
            clip = to_model_input(frames, image_size=self.image_size, mean=self.mean, std=self.std)
        return clip, int(self.labels[i])

    def _read(self, i: int, arr: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Frames ``idx`` of clip ``i``'s mapped array (reads only those from the file)."""
        try:
            return np.asarray(arr[idx])
        except (OSError, ValueError) as e:
            raise FervidError(f"{self.clip_path(i)}: cannot read clip ({type(e).__name__}: {e})") from None

    def _views(self, i: int, arr: np.ndarray) -> torch.Tensor:
        """Clip ``i``'s test-time views: ``(views * crops, 3, T, S, S)``, view-major."""
        idx = view_indices(arr.shape[0], self.num_frames, self.sampling, self.views)  # (views, T)
        frames = self._read(i, arr, idx.reshape(-1))
        frames = frames.reshape(self.views, self.num_frames, *frames.shape[1:])  # (views, T, H, W, 3)
        return torch.cat(
            [
                to_model_views(f, crops=self.crops, image_size=self.image_size, mean=self.mean, std=self.std)
                for f in frames
            ]
        )
