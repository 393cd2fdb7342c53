"""LBP-TOP: local binary patterns on three orthogonal planes (Zhao & Pietikainen, IEEE TPAMI 2007).

For every pixel of a grayscale clip (T, H, W) away from the borders, ``P`` = 8 neighbours are
sampled on an ellipse in each of the planes XY (radii Rx, Ry), XT (Rx, Rt) and YT (Ry, Rt),
bilinearly interpolated, and compared with the centre (neighbour >= centre -> 1). Codes are
mapped to the 59 "uniform" bins (58 patterns with at most two 0/1 transitions, plus one bin
for the rest). The clip is split into ``blocks`` = (rows, columns) non-overlapping spatial
blocks over the whole time span; each block gives one normalised 59-bin histogram per plane,
and the feature is their concatenation: rows x columns x 3 x 59 values.

The MEGC2019 baseline (See et al., FG 2019) follows the CASME II baseline (Yan et al., PLoS ONE
2014): TIM-resampled clips, 5x5 blocks, radii (1, 1, 4) and a linear SVM. miex's defaults are
5x5 blocks and radii (Rx, Ry, Rt) = (1, 1, 2) on clips resampled to 10 frames (Rt = 4 leaves
only two centre frames of ten; any radii can be configured).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from miex.errors import MiexError

P = 8
N_BINS = 59


@lru_cache(maxsize=1)
def uniform_table() -> np.ndarray:
    """Lookup 0..255 -> uniform bin 0..58 (bin 58 collects the non-uniform codes)."""
    table = np.full(256, N_BINS - 1, dtype=np.int64)
    nxt = 0
    for code in range(256):
        bits = [(code >> i) & 1 for i in range(P)]
        if sum(bits[i] != bits[(i + 1) % P] for i in range(P)) <= 2:
            table[code] = nxt
            nxt += 1
    return table


def _sample(vol: np.ndarray, offsets: tuple[float, float, float], core: tuple[slice, slice, slice]) -> np.ndarray:
    """``vol`` shifted by real-valued (dt, dy, dx), trilinear, on the ``core`` region."""
    out = 0.0
    base = [np.floor(o) for o in offsets]
    frac = [o - b for o, b in zip(offsets, base)]
    for corner in range(8):
        w = 1.0
        idx = []
        for axis in range(3):
            up = (corner >> axis) & 1
            w *= frac[axis] if up else 1.0 - frac[axis]
            shift = int(base[axis]) + up
            s = core[axis]
            idx.append(slice(s.start + shift, s.stop + shift))
        if w > 1e-12:
            out = out + w * vol[tuple(idx)]
    return np.asarray(out)


def plane_codes(vol: np.ndarray, plane: str, radii: tuple[float, float, float]) -> np.ndarray:
    """Uniform-LBP bins of the interior voxels in one plane ("xy", "xt" or "yt")."""
    rx, ry, rt = radii
    mt, my, mx = (int(np.ceil(r)) for r in (rt, ry, rx))
    t, h, w = vol.shape
    core = (slice(mt, t - mt), slice(my, h - my), slice(mx, w - mx))
    centre = vol[core]
    code = np.zeros(centre.shape, dtype=np.int64)
    for p in range(P):
        a = 2.0 * np.pi * p / P
        c, s = np.cos(a), -np.sin(a)
        off = {"xy": (0.0, ry * s, rx * c), "xt": (rt * s, 0.0, rx * c), "yt": (rt * s, ry * c, 0.0)}[plane]
        off = tuple(0.0 if abs(o) < 1e-9 else o for o in off)
        code |= (_sample(vol, off, core) >= centre - 1e-7).astype(np.int64) << p
    return uniform_table()[code]


def lbp_top(
    clip: np.ndarray, blocks: Sequence[int] = (5, 5), radii: Sequence[float] = (1, 1, 2)
) -> np.ndarray:
    """The LBP-TOP feature of a grayscale clip (T, H, W) -> float32 (rows*cols*3*59,)."""
    vol = np.asarray(clip, dtype=np.float64)
    if vol.ndim != 3:
        raise MiexError(f"LBP-TOP needs a grayscale clip (T, H, W), got shape {vol.shape}")
    rx, ry, rt = (float(r) for r in radii)
    if min(rx, ry, rt) <= 0:
        raise MiexError(f"LBP-TOP radii must be positive, got {tuple(radii)}")
    rows, cols = (int(b) for b in blocks)
    t, h, w = vol.shape
    if t < 2 * np.ceil(rt) + 1 or h < rows * (2 * np.ceil(ry) + 1) or w < cols * (2 * np.ceil(rx) + 1):
        raise MiexError(f"a {t}x{h}x{w} clip is too small for LBP-TOP with radii {tuple(radii)} "
                        f"and {rows}x{cols} blocks")
    hists = []
    for plane in ("xy", "xt", "yt"):
        codes = plane_codes(vol, plane, (rx, ry, rt))
        ys = np.array_split(np.arange(codes.shape[1]), rows)
        xs = np.array_split(np.arange(codes.shape[2]), cols)
        for i, yy in enumerate(ys):
            for j, xx in enumerate(xs):
                block = codes[:, yy[0]:yy[-1] + 1, xx[0]:xx[-1] + 1]
                hist = np.bincount(block.ravel(), minlength=N_BINS).astype(np.float64)
                hists.append((i, j, plane, hist / max(hist.sum(), 1.0)))
    order = {"xy": 0, "xt": 1, "yt": 2}
    hists.sort(key=lambda r: (r[0], r[1], order[r[2]]))
    return np.concatenate([h for *_, h in hists]).astype(np.float32)


def feature_dim(blocks: Sequence[int]) -> int:
    """Length of the LBP-TOP vector for ``blocks`` = (rows, columns)."""
    return int(blocks[0]) * int(blocks[1]) * 3 * N_BINS
