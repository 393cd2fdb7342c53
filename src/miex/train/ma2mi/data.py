"""Samples for MA2MI pre-training: (first frame, frame t, frame t + k, k) of preprocessed clips.

Every epoch draws ``pairs_per_clip`` samples per clip. Sample ``i`` of epoch ``e`` is fully
determined by ``miex.seeding.rng(seed, "ma2mi-pair", e, i)``: its clip (``i // pairs_per_clip``),
``k`` in ``[k_min, min(k_max, T - 1)]``, ``t`` in ``[0, T - 1 - k]`` and a horizontal flip (the
same for its three frames). The order of an epoch is ``rng(seed, "ma2mi-order", e)``'s
permutation; under DDP rank ``r`` of ``w`` takes every ``w``-th index of it (padded by wrapping
so every rank runs the same number of steps). Frames become float tensors in MIACNet's input
normalisation (``(x / 255 - 0.5) / 0.5``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch

from miex.datasets.videos import MacroClip
from miex.models.spec import MIEX_MEAN, MIEX_STD
from miex.seeding import rng


@functools.lru_cache(maxsize=256)
def _crops(path: str) -> np.ndarray:
    from miex.datasets.crops import load_crops

    return load_crops(path)


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(..., H, W, 3) uint8 -> (..., 3, H, W) float32, normalised like MIACNet's inputs."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div_(255.0)
    mean = torch.tensor(MIEX_MEAN).view(3, 1, 1)
    std = torch.tensor(MIEX_STD).view(3, 1, 1)
    return (x.movedim(-1, -3) - mean) / std


class PairSet(torch.utils.data.Dataset):
    """``set[i] -> (f0, ft, ftk, k)`` for one epoch (:meth:`set_epoch`)."""

    def __init__(self, clips: Sequence[MacroClip], *, k_min: int, k_max: int, pairs_per_clip: int,
                 hflip: float, seed: int) -> None:
        self.clips = list(clips)
        self.k_min, self.k_max = int(k_min), int(k_max)
        self.pairs_per_clip = int(pairs_per_clip)
        self.hflip = float(hflip)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clips) * self.pairs_per_clip

    def draw(self, index: int, n_frames: int) -> tuple[int, int, bool]:
        """(t, k, flip) of sample ``index`` in this epoch for a clip of ``n_frames``."""
        gen = rng(self.seed, "ma2mi-pair", self.epoch, int(index))
        k = int(gen.integers(self.k_min, min(self.k_max, n_frames - 1) + 1))
        t = int(gen.integers(0, n_frames - k))
        return t, k, bool(gen.random() < self.hflip)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        clip = self.clips[int(index) // self.pairs_per_clip]
        crops = _crops(clip.crops)
        t, k, flip = self.draw(index, len(crops))
        frames = crops[[0, t, t + k]]
        if flip:
            frames = frames[:, :, ::-1]
        x = to_tensor(frames)
        return x[0], x[1], x[2], k


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[int]:
    """This rank's sample indices for an epoch (see the module docstring)."""
    order = rng(seed, "ma2mi-order", int(epoch)).permutation(n)
    per_rank = -(-n // world)
    padded = np.resize(order, per_rank * world) if world > 1 else order
    return [int(i) for i in padded[rank::world]]


__all__ = ["PairSet", "epoch_order", "to_tensor"]
