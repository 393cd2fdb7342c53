"""Frame sources for fixture trees: callables ``(clip_info, n_frames) -> list of (H, W, 3) uint8 RGB``.

- :func:`tiny_frames`: 8x8 (or any size) seeded noise or solid frames, for fast count tests.
- :func:`warp_frames`: frames rendered by miex's warp generator from a real photo (the astronaut),
  with a known AU motion per emotion: neutral at the first frame, the emotion's AUs at
  :data:`APEX_INTENSITY` on the apex frame, back towards neutral at the last frame.
- :func:`default_frame_source`: :func:`warp_frames` when ``miex.generators`` and ``miex.faces``
  are importable and work, else :func:`photo_frames` (the same photo crop, without motion).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from miex.au.space import N_AUS, z_from_mapping
from miex.seeding import rng


@dataclass(frozen=True)
class ClipInfo:
    """What a frame source needs to know about the clip it renders."""

    dataset: str
    subject: str  # local subject folder, e.g. sub01
    clip: str
    emotion: str  # native emotion string (lower case)
    label: int  # 3-class label, -1 when outside the scheme
    apex_index: int  # position of the apex frame in the clip (0-based)


FrameSource = Callable[[ClipInfo, int], list[np.ndarray]]

#: AUs moved from onset to apex per emotion (after the design's expert table; ``others`` and
#: ``repression`` get a subtle dimpler).
EMOTION_AUS: dict[str, tuple[str, ...]] = {
    "happiness": ("AU06", "AU12"),
    "happy": ("AU06", "AU12"),
    "positive": ("AU06", "AU12"),
    "surprise": ("AU01", "AU02", "AU05"),
    "sadness": ("AU01", "AU04", "AU15"),
    "fear": ("AU05", "AU20"),
    "anger": ("AU04", "AU07", "AU23"),
    "disgust": ("AU09", "AU10", "AU17"),
    "contempt": ("AU14",),
    "repression": ("AU14", "AU17"),
    "negative": ("AU04", "AU07"),
    "others": ("AU14",),
    "other": ("AU14",),
}
#: Fallback by 3-class label when the emotion is not in :data:`EMOTION_AUS`.
LABEL_AUS: dict[int, tuple[str, ...]] = {0: ("AU04", "AU07"), 1: ("AU06", "AU12"), 2: ("AU01", "AU02", "AU05")}
APEX_INTENSITY = 0.6


def clip_apex_z(info: ClipInfo, intensity: float = APEX_INTENSITY) -> np.ndarray:
    """The known apex AU vector (17,) of a fixture clip."""
    aus = EMOTION_AUS.get(info.emotion.lower()) or LABEL_AUS.get(info.label, ("AU14",))
    return z_from_mapping({au: intensity for au in aus})


def motion_weights(n_frames: int, apex_index: int) -> np.ndarray:
    """Per-frame weight of the apex AUs: 0 at the first frame, 1 at the apex, falling linearly to
    0 at the last frame (a clip whose apex is its first frame starts at 1)."""
    w = np.zeros(n_frames)
    apex_index = int(min(max(apex_index, 0), n_frames - 1))
    for i in range(n_frames):
        if i <= apex_index:
            w[i] = i / apex_index if apex_index > 0 else 1.0
        else:
            w[i] = (n_frames - 1 - i) / (n_frames - 1 - apex_index)
    return w


def clip_zs(info: ClipInfo, n_frames: int, intensity: float = APEX_INTENSITY) -> np.ndarray:
    """(n_frames, 17) AU vectors of a fixture clip."""
    return motion_weights(n_frames, info.apex_index)[:, None] * clip_apex_z(info, intensity)[None, :]


def tiny_frames(size: int = 8, *, kind: str = "noise", seed: int = 0) -> FrameSource:
    """Tiny frames (``size`` x ``size``): seeded noise per clip and frame, or a solid colour per clip."""
    if kind not in ("noise", "solid"):
        raise ValueError(f"kind must be noise or solid, got {kind!r}")

    def source(info: ClipInfo, n_frames: int) -> list[np.ndarray]:
        gen = rng(seed, info.dataset, info.subject, info.clip)
        if kind == "solid":
            colour = gen.integers(0, 256, size=3, dtype=np.uint8)
            return [np.broadcast_to(colour, (size, size, 3)).copy() for _ in range(n_frames)]
        return [gen.integers(0, 256, size=(size, size, 3), dtype=np.uint8) for _ in range(n_frames)]

    return source


def recolour(rgb: np.ndarray, kind: str) -> np.ndarray:
    """A photo variant's colour: ``"warm"``, ``"cool"``, ``"gamma"`` (0.8) or ``"none"``."""
    x = rgb.astype(np.float32) / 255.0
    if kind == "warm":
        x = x * np.array([1.08, 1.0, 0.88], np.float32)
    elif kind == "cool":
        x = x * np.array([0.9, 0.98, 1.1], np.float32)
    elif kind == "gamma":
        x = x ** 0.8
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def astronaut_path() -> Path:
    """scikit-image's astronaut.png (public domain, NASA)."""
    import skimage

    return Path(skimage.__file__).parent / "data" / "astronaut.png"


@functools.lru_cache(maxsize=4)
def _photo_crop(size: int) -> np.ndarray:
    """A square crop around the astronaut's face (fixed box, no detector), resized to ``size``."""
    import cv2

    bgr = cv2.imread(str(astronaut_path()), cv2.IMREAD_COLOR)
    crop = bgr[20:240, 120:340]
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)


def photo_frames(size: int = 128) -> FrameSource:
    """The astronaut face crop on every frame (no motion): the fallback without a generator."""

    def source(info: ClipInfo, n_frames: int) -> list[np.ndarray]:
        return [_photo_crop(size).copy() for _ in range(n_frames)]

    return source


@functools.lru_cache(maxsize=4)
def _prepared(size: int, name: str):  # -> (generator, prepared face)
    from miex.faces import detect_face
    from miex.generators import create_generator

    generator = create_generator(name)
    face = detect_face(astronaut_path(), size=size)
    return generator, generator.prepare(face)


def warp_frames(size: int = 128, *, intensity: float = APEX_INTENSITY, generator: str = "warp") -> FrameSource:
    """Frames rendered by ``miex.generators.create_generator(generator)`` from the astronaut's
    aligned face, following :func:`clip_zs` (raises ImportError when the generator is missing)."""
    gen, prepared = _prepared(size, generator)

    def source(info: ClipInfo, n_frames: int) -> list[np.ndarray]:
        zs = clip_zs(info, n_frames, intensity)
        assert zs.shape == (n_frames, N_AUS)
        return [np.ascontiguousarray(f, dtype=np.uint8) for f in gen.render_many(prepared, zs)]

    return source


def default_frame_source(size: int = 128) -> FrameSource:
    """:func:`warp_frames` when the warp generator and the face detector work, else :func:`photo_frames`."""
    try:
        return warp_frames(size)
    except Exception:  # noqa: BLE001 - missing module, model files or a detector failure
        return photo_frames(size)


def has_warp_generator(size: int = 128) -> bool:
    try:
        warp_frames(size)
    except Exception:  # noqa: BLE001
        return False
    return True
