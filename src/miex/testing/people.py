"""Recordings of different real people at the datasets' real size, for fixtures and proofs.

Real MiE recordings are 640x480 (CASME II raw, SMIC-HS) or larger, with the face a part of the
frame at a per-person position, moving slightly. Perfect 128 px crops of one photo hide the bugs
that users hit (a pipeline that never crops the face, flow computed on the whole frame), and
"subjects" that are variants of one photo let a model learn the person instead of the motion.

The people are the face images of scikit-image's LFW subset (``skimage/data/lfw_subset.npy``:
25x25 grey crops of Labeled Faces in the Wild; the first 100 are faces), upscaled, kept when
dlib finds a face with landmarks on them, and de-duplicated by dlib's face embedding so that no
two fixture subjects are the same person. :func:`recording_source` renders each clip with miex's
warp generator (a known AU pattern per class at micro-expression intensity) on the person's face
and places the face in a 640x480 frame at a per-subject position and scale, over a per-subject
background, drifting by about a pixel over the clip.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from miex.au.space import z_from_mapping
from miex.seeding import rng
from miex.testing.frames import ClipInfo, FrameSource, motion_weights

#: AUs per 3-class label, each drawn in :data:`INTENSITY` per clip.
CLASS_AUS: dict[int, tuple[str, ...]] = {0: ("AU04", "AU07"), 1: ("AU06", "AU12"), 2: ("AU01", "AU02", "AU05")}
#: A weak random AU added to every clip (at most 0.1), so no clip is a pure template.
DISTRACTORS: tuple[str, ...] = ("AU14", "AU17", "AU10", "AU45", "AU25")
INTENSITY = (0.15, 0.3)
FRAME_SIZE = (640, 480)  # width, height
FACE_PX = 200  # side of the face image (the LFW crop is the face from brows to chin)


def lfw_path() -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data" / "lfw_subset.npy"


@dataclass(frozen=True)
class Person:
    index: int  # row of the LFW subset
    image: np.ndarray  # (FACE_PX, FACE_PX, 3) uint8 RGB
    landmarks: np.ndarray  # (68, 2) in image coordinates
    embedding: np.ndarray  # (128,)


def _face_image(grey: np.ndarray, tint: np.ndarray) -> np.ndarray:
    import cv2

    big = cv2.resize((grey * 255.0).astype(np.float32), (FACE_PX, FACE_PX), interpolation=cv2.INTER_CUBIC)
    rgb = np.clip(big[..., None] * tint[None, None, :], 0, 255)
    return rgb.astype(np.uint8)


def _detect(image: np.ndarray, detector) -> tuple[np.ndarray, np.ndarray] | None:
    """(landmarks in image coordinates, embedding) of the face in ``image``, or None."""
    pad = FACE_PX // 2
    canvas = np.full((FACE_PX + 2 * pad, FACE_PX + 2 * pad, 3), 128, np.uint8)
    canvas[pad:pad + FACE_PX, pad:pad + FACE_PX] = image
    boxes = detector.detect(canvas)
    if not boxes:
        return None
    marks = detector.landmarks(canvas, boxes[0])
    return marks - pad, detector.embedding(canvas, marks)


@functools.lru_cache(maxsize=4)
def people(n: int, *, min_distance: float = 0.45, seed: int = 0) -> tuple[Person, ...]:
    """``n`` different people of the LFW subset (in subset order; pairwise embedding distance
    at least ``min_distance``). Raises RuntimeError when fewer are usable."""
    from miex.faces import FaceDetector

    faces = np.load(lfw_path())[:100]
    detector = FaceDetector(upsample=1)
    found: list[Person] = []
    for i, grey in enumerate(faces):
        tint = rng(seed, "tint", i).uniform(0.85, 1.1, size=3)
        image = _face_image(grey, tint)
        hit = _detect(image, detector)
        if hit is None:
            continue
        marks, emb = hit
        if all(np.linalg.norm(emb - p.embedding) >= min_distance for p in found):
            found.append(Person(i, image, marks, emb))
        if len(found) == n:
            return tuple(found)
    raise RuntimeError(f"only {len(found)} distinct people found in {lfw_path()}, {n} asked for")


def _background(key: tuple, size: tuple[int, int], seed: int) -> np.ndarray:
    """A smooth, per-subject background (a colour gradient plus low-frequency texture)."""
    import cv2

    w, h = size
    gen = rng(seed, "background", *key)
    a, b = gen.uniform(40, 220, size=3), gen.uniform(40, 220, size=3)
    t = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
    grad = a[None, None, :] * (1 - t) + b[None, None, :] * t
    noise = cv2.resize(gen.normal(0.0, 18.0, size=(h // 16, w // 16, 3)).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC)
    return np.clip(np.broadcast_to(grad, (h, w, 3)) + noise, 0, 255).astype(np.float32)


def _placement(key: tuple, size: tuple[int, int], seed: int) -> tuple[float, float, float]:
    """(x, y, scale) of a subject's face in the frame: the face covers about a third of the width."""
    w, h = size
    gen = rng(seed, "placement", *key)
    scale = float(gen.uniform(1.05, 1.3))
    side = FACE_PX * scale
    return float(gen.uniform(0.08 * w, w - side - 0.08 * w)), float(gen.uniform(0.05 * h, h - side - 0.05 * h)), scale


def clip_z(info: ClipInfo, seed: int = 0) -> np.ndarray:
    """The apex AU vector of a fixture clip: its class's AUs plus a weak distractor."""
    gen = rng(seed, "clip", info.dataset, info.subject, info.clip)
    label = info.label if info.label in CLASS_AUS else 0
    apex = {au: float(gen.uniform(*INTENSITY)) for au in CLASS_AUS[label]}
    distractor = DISTRACTORS[int(gen.integers(len(DISTRACTORS)))]
    apex[distractor] = apex.get(distractor, 0.0) + float(gen.uniform(0.0, 0.1))
    return z_from_mapping(apex)


def recording_source(subjects: Sequence[tuple[str, str]], *, size: tuple[int, int] = FRAME_SIZE,
                     cropped: bool = False, crop_px: int = 128, seed: int = 0) -> FrameSource:
    """A ``miex.testing`` frame source: one distinct person per ``(dataset, subject)``.

    Frames are ``size`` (width, height) recordings; with ``cropped`` the same clips are given as
    aligned face crops of ``crop_px`` (the face image itself, for comparisons with the crop
    pipeline). Clips of subjects not listed reuse a listed person (extras of a fixture writer).
    """
    import cv2

    from miex.generators import create_generator

    cast = people(len(subjects), seed=seed)
    generator = create_generator("warp")
    by_key: Mapping[tuple[str, str], Person] = dict(zip(subjects, cast))
    prepared = {key: generator.prepare(_as_face(p)) for key, p in by_key.items()}
    keys = list(by_key)

    def source(info: ClipInfo, n_frames: int) -> list[np.ndarray]:
        key = (info.dataset, info.subject)
        if key not in prepared:
            key = keys[int(rng(seed, info.dataset, info.subject).integers(len(keys)))]
        zs = motion_weights(n_frames, info.apex_index)[:, None] * clip_z(info, seed)[None, :]
        faces = generator.render_many(prepared[key], zs)
        if cropped:
            return [cv2.resize(np.ascontiguousarray(f), (crop_px, crop_px), interpolation=cv2.INTER_AREA)
                    for f in faces]
        background = _background(key, size, seed)
        x, y, scale = _placement(key, size, seed)
        drift = rng(seed, "drift", info.dataset, info.subject, info.clip).uniform(-1.0, 1.0, size=2)
        out = []
        for i, face in enumerate(faces):
            t = i / max(n_frames - 1, 1)
            m = np.array([[scale, 0.0, x + drift[0] * t], [0.0, scale, y + drift[1] * t]])
            out.append(_paste(background, np.ascontiguousarray(face), m, size))
        return out

    return source


def _as_face(person: Person):
    from miex.faces import Face

    return Face(image=person.image, landmarks=person.landmarks, source=f"lfw_subset[{person.index}]",
                box=(0, 0, FACE_PX, FACE_PX), transform=np.array([[1.0, 0, 0], [0, 1.0, 0]]))


def _paste(background: np.ndarray, face: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    w, h = size
    warped = cv2.warpAffine(face.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(np.ones(face.shape[:2], np.float32), m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    return np.clip(warped + background * (1.0 - mask) + 0.5, 0, 255).astype(np.uint8)


__all__ = ["CLASS_AUS", "FRAME_SIZE", "Person", "clip_z", "lfw_path", "people", "recording_source"]
