"""Temporal resampling of clips: the temporal interpolation model (TIM) and linear resampling.

TIM (Zhou, Zhao & Pietikainen, CVPR 2011; used for micro-expressions by Pfister et al.,
ICCV 2011) sees a clip of ``n`` frames as ``n`` points on a curve: the path graph that links
consecutive frames is embedded with its Laplacian eigenvectors,
``y_k(t) = sin(pi k t / n + pi (n - k) / (2 n))`` for k = 1 .. n-1 and frame positions
t = 1 .. n, a linear map sends the (mean-centred) frames onto that embedding, and new frames
are read off the continuous curve at ``m`` evenly spaced positions and mapped back.

With ``Y`` the (n-1, n) matrix of the embedding and ``X`` the centred frames, the map is
``M = X Y^+`` (exact: the eigenvectors are orthogonal to the constant vector, so
``Y^+ Y = I - 11^T / n`` and ``X Y^+ Y = X``), and a new frame at curve position ``t`` is
``mean + X Y^+ y(t)``: a fixed weighting of the input frames. miex computes those weights
(``tim_weights``) instead of an explicit projection, which gives the same frames without an
SVD of the pixels. At the input positions the input frames come back exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from miex.errors import MiexError

RESAMPLERS = ("tim", "linear")


def _embedding(n: int, t: np.ndarray) -> np.ndarray:
    """(n-1, len(t)) Laplacian-eigenmap coordinates of curve positions ``t`` (1-based)."""
    k = np.arange(1, n, dtype=np.float64)[:, None]
    return np.sin(np.pi * k * t[None, :] / n + np.pi * (n - k) / (2.0 * n))


def tim_weights(n: int, m: int) -> np.ndarray:
    """(m, n) weights: new frame j = sum_i w[j, i] * frame i (rows sum to 1)."""
    n, m = int(n), int(m)
    if n < 1 or m < 1:
        raise MiexError(f"TIM needs at least one input and one output frame, got {n} -> {m}")
    if n == 1:
        return np.ones((m, 1))
    y = _embedding(n, np.arange(1, n + 1, dtype=np.float64))
    y_new = _embedding(n, np.linspace(1.0, float(n), m))
    centred = np.linalg.pinv(y) @ y_new  # (n, m): weights of the centred frames
    return (centred + 1.0 / n).T  # adding back the mean: each output gets 1/n of every frame


def linear_weights(n: int, m: int) -> np.ndarray:
    """(m, n) weights of linear interpolation in time (first and last frames kept)."""
    n, m = int(n), int(m)
    if n < 1 or m < 1:
        raise MiexError(f"cannot resample a clip of {n} frames to {m}")
    w = np.zeros((m, n))
    if n == 1:
        w[:, 0] = 1.0
        return w
    pos = np.linspace(0.0, n - 1.0, m)
    lo = np.minimum(np.floor(pos).astype(int), n - 2)
    frac = pos - lo
    w[np.arange(m), lo] = 1.0 - frac
    w[np.arange(m), lo + 1] += frac
    return w


def resample_clip(frames: np.ndarray | Sequence[np.ndarray], n: int, method: str = "tim") -> np.ndarray:
    """A clip (T, ...) resampled to ``n`` frames by TIM or linearly -> float32 (n, ...).

    Integer frames keep their scale (e.g. 0..255 as float32); TIM can overshoot the input
    range slightly between frames, as the published model does.
    """
    clip = np.asarray(frames, dtype=np.float32)
    if clip.ndim < 2 or clip.shape[0] < 1:
        raise MiexError(f"a clip must be (T, ...) with T >= 1, got shape {clip.shape}")
    method = str(method).lower()
    if method not in RESAMPLERS:
        raise MiexError(f"unknown temporal resampling {method!r}; choose one of {', '.join(RESAMPLERS)}")
    t = clip.shape[0]
    w = (tim_weights if method == "tim" else linear_weights)(t, n).astype(np.float32)
    out = w @ clip.reshape(t, -1)
    return out.reshape((int(n),) + clip.shape[1:])
