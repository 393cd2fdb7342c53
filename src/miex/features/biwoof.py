"""Bi-WOOF: bi-weighted oriented optical flow (Liong, See, Wong & Phan, Signal Processing: Image
Communication 2018), from the onset and apex frames only.

1. Optical flow onset -> apex (u, v), its magnitude ``rho`` and orientation ``theta``; the
   optical strain magnitude ``eps`` of the flow (:func:`miex.features.optical_strain`).
2. The face is split into ``blocks`` x ``blocks`` non-overlapping blocks. In each block the
   orientations are binned into a ``bins``-bin histogram where every pixel votes with its flow
   magnitude (the *local* weight).
3. Each block histogram is normalised (to sum 1) and multiplied by the block's mean optical
   strain (the *global* weight: blocks that deform more count more); the weighted histograms
   are concatenated (blocks^2 x bins values).

The paper uses 5x5 blocks for CASME II and 8 orientation bins; miex uses those defaults.
Flow is computed on the frames as given (the paper: TV-L1 on cropped faces).
"""

from __future__ import annotations

import numpy as np

from miex.errors import MiexError
from miex.features.flow import optical_flow, optical_strain


def bi_woof(flow: np.ndarray, blocks: int = 5, bins: int = 8) -> np.ndarray:
    """The Bi-WOOF vector of an (H, W, 2) onset->apex flow -> float32 (blocks*blocks*bins,)."""
    f = np.asarray(flow, dtype=np.float64)
    if f.ndim != 3 or f.shape[2] != 2:
        raise MiexError(f"Bi-WOOF needs an (H, W, 2) flow field, got shape {f.shape}")
    blocks, bins = int(blocks), int(bins)
    if blocks < 1 or bins < 2 or min(f.shape[:2]) < blocks:
        raise MiexError(f"Bi-WOOF: {blocks}x{blocks} blocks and {bins} bins do not fit a {f.shape[:2]} flow")
    u, v = f[..., 0], f[..., 1]
    rho = np.hypot(u, v)
    theta = np.mod(np.arctan2(v, u), 2.0 * np.pi)
    index = np.minimum((theta / (2.0 * np.pi) * bins).astype(np.int64), bins - 1)
    strain = optical_strain(f.astype(np.float32)).astype(np.float64)
    rows = np.array_split(np.arange(f.shape[0]), blocks)
    cols = np.array_split(np.arange(f.shape[1]), blocks)
    out = []
    for yy in rows:
        for xx in cols:
            sl = (slice(yy[0], yy[-1] + 1), slice(xx[0], xx[-1] + 1))
            hist = np.bincount(index[sl].ravel(), weights=rho[sl].ravel(), minlength=bins)
            total = hist.sum()
            hist = hist / total if total > 0 else hist
            out.append(hist * float(strain[sl].mean()))
    return np.concatenate(out).astype(np.float32)


def bi_woof_features(onset: np.ndarray, apex: np.ndarray, blocks: int = 5, bins: int = 8,
                     method: str = "tvl1") -> np.ndarray:
    """Bi-WOOF of an onset/apex pair of frames (flow computed with ``method``)."""
    return bi_woof(optical_flow(onset, apex, method=method), blocks=blocks, bins=bins)


def feature_dim(blocks: int, bins: int) -> int:
    return int(blocks) ** 2 * int(bins)
