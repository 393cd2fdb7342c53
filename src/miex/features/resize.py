"""Resize frames, clips and sample dicts to the input each model expects (its ``input_spec``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable

import cv2
import numpy as np

from miex.errors import MiexError
from miex.features.temporal import resample_clip


def resize_image(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize an (H, W) or (H, W, C) image to ``size`` (int = square, or (height, width)).

    cv2.INTER_AREA when shrinking, cv2.INTER_LINEAR when enlarging; the dtype is kept.
    """
    a = np.asarray(image)
    if a.ndim not in (2, 3) or min(a.shape[:2]) < 1:
        raise MiexError(f"cannot resize an array of shape {a.shape} as an image")
    h, w = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))  # type: ignore[index]
    if (h, w) == a.shape[:2]:
        return a.copy()
    shrink = h <= a.shape[0] and w <= a.shape[1]
    out = cv2.resize(np.ascontiguousarray(a), (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if a.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return out


def resample_frames(frames: np.ndarray | Sequence[np.ndarray], n: int) -> np.ndarray:
    """Resample a clip (T, H, W[, C]) to ``n`` frames, linearly in time (first and last kept).

    A simple stand-in for the temporal interpolation model (TIM) of the MiE literature, which
    :func:`miex.features.resample_clip` implements (``method="tim"``).
    Output dtype is float32.
    """
    clip = np.asarray(frames, dtype=np.float32)
    if clip.ndim < 3 or clip.shape[0] < 1:
        raise MiexError(f"a clip must be (T, H, W[, C]) with T >= 1, got shape {clip.shape}")
    n = int(n)
    if n < 1:
        raise MiexError(f"cannot resample a clip to {n} frames")
    t = clip.shape[0]
    if t == 1:
        return np.repeat(clip, n, axis=0)
    pos = np.linspace(0.0, t - 1, n)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    wgt = (pos - lo).reshape((n,) + (1,) * (clip.ndim - 1)).astype(np.float32)
    return (1.0 - wgt) * clip[lo] + wgt * clip[hi]


def _rgb_chw(image: np.ndarray, size: int, mean: Sequence[float] | None, std: Sequence[float] | None) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3:
        raise MiexError(f"expected an (H, W, 3) RGB frame, got shape {a.shape}")
    a = resize_image(a, size)
    x = a.astype(np.float32) / 255.0 if np.issubdtype(a.dtype, np.integer) else a.astype(np.float32)
    if mean is not None and std is not None:
        x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def model_input(
    sample: Mapping[str, Any],
    spec: Any,
    *,
    flow_method: str = "tvl1",
    flow_normalize: str = "minmax",
    cache: Any = None,
    cache_key: str | None = None,
    cache_settings: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """One sample's model input (no batch dimension) as float32, following ``spec`` (an InputSpec).

    ``sample`` is a dataset item (``onset``, ``apex`` RGB uint8 frames; ``frames`` (T, H, W, 3)
    for clips). Results: "apex" (3, S, S); "pair" (2, 3, S, S); "flow" (C, S, S) from
    :func:`miex.features.flow_features` with ``spec.channel_names``; "video" (3, T, S, S) with
    T = ``spec.frames`` (resampled linearly, or by TIM with the spec option ``resample="tim"``);
    "neighbours" (N, 3, S, S) from ``sample["neighbours"]`` (the apex and its neighbouring frames);
    the zoo's feature kinds "flow_sequence", "regions", "region_clip", "lbp_top", "bi_woof"
    from :mod:`miex.features.kinds` (cached like flow). RGB is scaled to [0, 1] then normalised
    with ``spec.mean``/``spec.std``.
    Flow features are read from / written to ``cache`` (a FeatureCache) when ``cache`` and
    ``cache_key`` are given; ``cache_settings`` adds e.g. the face-crop settings to its key.
    No augmentation here: training code augments frames before calling this.
    """
    kind, size = spec.kind, int(spec.size)
    if kind == "apex":
        return _rgb_chw(_need(sample, "apex"), size, spec.mean, spec.std)
    if kind == "pair":
        return np.stack([_rgb_chw(_need(sample, k), size, spec.mean, spec.std) for k in ("onset", "apex")])
    if kind == "flow":
        from miex.features.flow import flow_features

        settings = {"kind": "flow_features", "method": flow_method, "size": size,
                    "channels": list(spec.channel_names), "normalize": flow_normalize, **(cache_settings or {})}
        # frames are read only on a cache miss, so ``sample`` may load them lazily
        compute: Callable[[], np.ndarray] = lambda: flow_features(  # noqa: E731
            _need(sample, "onset"), _need(sample, "apex"), size=size, method=flow_method,
            channels=spec.channel_names, normalize=flow_normalize)
        if cache is not None and cache_key is not None:
            return cache.get_or_compute(cache_key, settings, compute)
        return compute()
    if kind in _ZOO_FEATURES:
        from miex.features.kinds import feature_compute, feature_settings

        settings = {**feature_settings(spec, flow_method, flow_normalize), **(cache_settings or {})}
        fn = feature_compute(_Needed(sample), spec, flow_method, flow_normalize)
        if cache is not None and cache_key is not None:
            return cache.get_or_compute(cache_key, settings, fn)
        return fn()
    if kind == "neighbours":
        return np.stack([_rgb_chw(f, size, spec.mean, spec.std) for f in _need(sample, "neighbours")])
    if kind == "video":
        clip = _need(sample, "frames")
        resized = np.stack([resize_image(f, size) for f in clip])
        frames = resample_clip(resized, int(spec.frames), spec.option("resample", "linear"))
        x = frames / 255.0 if np.issubdtype(np.asarray(clip[0]).dtype, np.integer) else frames
        if spec.mean is not None and spec.std is not None:
            x = (x - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
        return np.ascontiguousarray(x.transpose(3, 0, 1, 2), dtype=np.float32)
    raise MiexError(f"unknown input kind {kind!r}")


#: Feature kinds of the model zoo, computed by :mod:`miex.features.kinds`.
_ZOO_FEATURES = ("flow_sequence", "regions", "region_clip", "lbp_top", "bi_woof")


class _Needed(Mapping):
    """A view of a sample that raises the one-line MiexError of :func:`_need` for a missing key."""

    def __init__(self, sample: Mapping[str, Any]) -> None:
        self._sample = sample

    def __getitem__(self, key: str) -> Any:
        return _need(self._sample, key)

    def __iter__(self):
        return iter(self._sample)

    def __len__(self) -> int:
        return len(self._sample)


def _need(sample: Mapping[str, Any], key: str) -> np.ndarray:
    if key not in sample or sample[key] is None:
        where = f" ({sample.get('dataset', '')}/{sample.get('clip', '')})" if "clip" in sample else ""
        hint = " (video models need clip-mode samples)" if key == "frames" else ""
        raise MiexError(f"sample{where} has no {key!r}{hint}")
    return sample[key]
