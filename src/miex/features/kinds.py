"""The feature-based input kinds of the model zoo: what :func:`miex.features.model_input`
computes (and caches) for ``flow_sequence``, ``regions``, ``region_clip``, ``lbp_top`` and
``bi_woof`` specs. Each kind gives (cache settings, compute function); frames are read only
when the function runs, so a cache hit decodes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

from miex.errors import MiexError

#: Kinds computed here (features: no augmentation, cached on disk, precomputed by training).
FEATURE_KINDS = ("flow", "flow_sequence", "regions", "region_clip", "lbp_top", "bi_woof")


def _gray_clip(frames: Any, size: int) -> np.ndarray:
    from miex.features.flow import resize_map, to_gray

    return np.stack([resize_map(to_gray(f), size) for f in frames])


def _flow_sequence(sample: Mapping, spec: Any, method: str, normalize: str) -> np.ndarray:
    from miex.features.sequence import flow_sequence

    return flow_sequence(sample["frames"], int(spec.frames), int(spec.size), spec.channel_names, method=method,
                         ref=spec.option("ref", "onset"), resample=spec.option("resample", "tim"), normalize=normalize)


def _regions(sample: Mapping, spec: Any, method: str, normalize: str) -> np.ndarray:
    from miex.features.flow import flow_features
    from miex.features.regions import face_landmarks, flow_patches, region_point

    onset, apex = sample["onset"], sample["apex"]
    map_size = int(spec.option("map_size", 28))
    maps = flow_features(onset, apex, size=map_size, method=method, channels=spec.channel_names, normalize=normalize)
    marks, _ = face_landmarks(np.asarray(apex))
    h, w = np.asarray(apex).shape[:2]
    points = np.array([region_point(marks, r) for r in spec.option("regions")])
    centres = points * np.array([map_size / w, map_size / h])  # frame pixels -> map pixels
    return flow_patches(maps, centres, int(spec.size))


def _region_clip(sample: Mapping, spec: Any, method: str, normalize: str) -> np.ndarray:  # noqa: ARG001
    from miex.features.regions import face_landmarks, region_clip
    from miex.features.temporal import resample_clip

    frames = np.asarray(sample["frames"])
    marks, _ = face_landmarks(frames[0])
    crops = region_clip(frames, marks, spec.option("regions"), int(spec.size))  # (R, T0, s, s)
    resampled = resample_clip(crops.transpose(1, 0, 2, 3), int(spec.frames), spec.option("resample", "tim"))
    return np.ascontiguousarray(resampled.transpose(1, 0, 2, 3)[:, None], dtype=np.float32)  # (R, 1, T, s, s)


def _lbp_top(sample: Mapping, spec: Any, method: str, normalize: str) -> np.ndarray:  # noqa: ARG001
    from miex.features.lbptop import lbp_top
    from miex.features.temporal import resample_clip

    clip = resample_clip(_gray_clip(sample["frames"], int(spec.size)), int(spec.option("frames", 10)),
                         spec.option("resample", "tim"))
    return lbp_top(clip, blocks=spec.option("blocks", (5, 5)), radii=spec.option("radii", (1, 1, 2)))


def _bi_woof(sample: Mapping, spec: Any, method: str, normalize: str) -> np.ndarray:  # noqa: ARG001
    from miex.features.biwoof import bi_woof_features
    from miex.features.resize import resize_image

    onset, apex = (resize_image(np.asarray(sample[k]), int(spec.size)) for k in ("onset", "apex"))
    return bi_woof_features(onset, apex, blocks=int(spec.option("blocks", 5)), bins=int(spec.option("bins", 8)),
                            method=method)


_COMPUTE: dict[str, Callable[[Mapping, Any, str, str], np.ndarray]] = {
    "flow_sequence": _flow_sequence, "regions": _regions, "region_clip": _region_clip, "lbp_top": _lbp_top,
    "bi_woof": _bi_woof,
}
#: Kinds whose features depend on detected landmarks (part of their cache settings).
_LANDMARK_KINDS = ("regions", "region_clip")


def feature_settings(spec: Any, flow_method: str, flow_normalize: str) -> dict[str, Any]:
    """Everything of ``spec`` and the flow options that changes a feature (its cache key)."""
    settings: dict[str, Any] = {
        "kind": spec.kind, "size": int(spec.size), "channels": list(spec.channel_names), "frames": spec.frames,
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in spec.options},
        "method": flow_method, "normalize": flow_normalize,
    }
    if spec.kind in _LANDMARK_KINDS:
        settings["landmarks"] = "dlib68, template fallback"
    return settings


def feature_compute(sample: Mapping, spec: Any, flow_method: str, flow_normalize: str) -> Callable[[], np.ndarray]:
    """A function computing the ``spec.kind`` feature of ``sample`` (frames read when it runs)."""
    if spec.kind not in _COMPUTE:
        raise MiexError(f"input kind {spec.kind!r} is not a feature kind")
    fn = _COMPUTE[spec.kind]
    return lambda: np.asarray(fn(sample, spec, flow_method, flow_normalize), dtype=np.float32)
