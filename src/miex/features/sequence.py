"""Frame-by-frame flow sequences of a clip: the input of ELRCN and of DTSCNN on flow.

A clip is first resampled in time (TIM or linearly, :mod:`miex.features.temporal`) to ``n``
frames. For every resampled frame ``t`` the requested channels are stacked:

- ``"gray"``, ``"r"``, ``"g"``, ``"b"``: the frame itself (intensities in [0, 1]);
- ``"u"``, ``"v"``, ``"strain"``, ``"mag"``: the optical flow from the reference frame to
  frame ``t`` (``ref="onset"``: the first frame, as ELRCN computes it; ``ref="previous"``:
  frame ``t - 1``, consecutive-frame flow as in DTSCNN), its optical strain and magnitude,
  with the conventions of :func:`miex.features.flow_features` (u, v in output pixels).
  The reference frame itself gets zero flow.

Flow is computed on the frames as given (aligned face crops in a normal pipeline), then each
map is resized to ``size``. ``normalize="minmax"`` scales each channel to [0, 1] over the
whole sequence (not per frame, so the rise and fall of the motion is kept).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from miex.errors import MiexError
from miex.features.flow import optical_flow, optical_strain, resize_map, to_gray
from miex.features.temporal import resample_clip

IMAGE_CHANNELS = ("gray", "r", "g", "b")
MOTION_CHANNELS = ("u", "v", "strain", "mag")
SEQUENCE_CHANNELS = IMAGE_CHANNELS + MOTION_CHANNELS
REFERENCES = ("onset", "previous")


def _check(channels: Sequence[str], ref: str, normalize: str) -> tuple[str, ...]:
    chans = tuple(channels)
    bad = [c for c in chans if c not in SEQUENCE_CHANNELS]
    if bad or not chans:
        raise MiexError(f"unknown flow-sequence channel(s) {bad or chans}; choose from {', '.join(SEQUENCE_CHANNELS)}")
    if ref not in REFERENCES:
        raise MiexError(f"unknown flow reference {ref!r}; choose one of {', '.join(REFERENCES)}")
    if normalize not in ("minmax", "none"):
        raise MiexError(f"unknown flow normalisation {normalize!r}; choose minmax or none")
    return chans


def _frame_maps(frame: np.ndarray, chans: tuple[str, ...], size: int) -> dict[str, np.ndarray]:
    rgb = np.asarray(frame, dtype=np.float32) / 255.0
    maps: dict[str, np.ndarray] = {}
    if "gray" in chans:
        maps["gray"] = resize_map(to_gray(rgb), size)
    for i, c in enumerate(("r", "g", "b")):
        if c in chans:
            maps[c] = resize_map(rgb[..., i] if rgb.ndim == 3 else rgb, size)
    return maps


def _motion_maps(flow: np.ndarray | None, chans: tuple[str, ...], size: int, shape: tuple[int, int]) -> dict:
    if flow is None:
        return {c: np.zeros((size, size), np.float32) for c in MOTION_CHANNELS if c in chans}
    h, w = shape
    u = resize_map(flow[..., 0], size) * (size / w)
    v = resize_map(flow[..., 1], size) * (size / h)
    maps = {"u": u, "v": v, "mag": np.sqrt(u**2 + v**2)}
    if "strain" in chans:
        maps["strain"] = resize_map(optical_strain(flow), size)
    return {c: maps[c] for c in MOTION_CHANNELS if c in chans}


def flow_sequence(
    frames: np.ndarray | Sequence[np.ndarray],
    n: int,
    size: int,
    channels: Sequence[str] = ("u", "v"),
    *,
    method: str = "tvl1",
    ref: str = "onset",
    resample: str = "tim",
    normalize: str = "minmax",
) -> np.ndarray:
    """(C, n, size, size) float32: the channels of every resampled frame (module docstring)."""
    chans = _check(channels, ref, normalize)
    clip = np.asarray(frames)
    if clip.ndim not in (3, 4) or clip.shape[0] < 1:
        raise MiexError(f"a clip must be (T, H, W[, 3]) frames, got shape {clip.shape}")
    size = int(size)
    seq = np.clip(resample_clip(clip, n, resample), 0, 255).astype(np.uint8)
    need_flow = any(c in MOTION_CHANNELS for c in chans)
    out = np.zeros((len(chans), int(n), size, size), np.float32)
    for t in range(int(n)):
        maps = _frame_maps(seq[t], chans, size)
        if need_flow:
            base = 0 if ref == "onset" else max(t - 1, 0)
            flow = None if base == t else optical_flow(seq[base], seq[t], method=method)
            maps.update(_motion_maps(flow, chans, size, seq.shape[1:3]))
        out[:, t] = np.stack([maps[c] for c in chans])
    if normalize == "minmax":
        lo = out.min(axis=(1, 2, 3), keepdims=True)
        span = out.max(axis=(1, 2, 3), keepdims=True) - lo
        out = np.where(span > 0, (out - lo) / np.where(span > 0, span, 1.0), 0.0).astype(np.float32)
    return out
