"""The face crop GANimation checkpoints were trained on, and pasting the edit back.

The public checkpoints (``ganimation_replicate`` on CelebA and EmotioNet, the official code's
recipe) were trained on **face-detector box crops**: ``face_recognition.face_locations`` -- dlib's
HOG frontal detector -- gives a square box, the box is cut out and resized to 128 x 128. Brows
are near the top edge, the chin at or just below the bottom edge.

miex reproduces that framing with its own eye alignment (:func:`miex.faces.align.similarity_from_points`
and :func:`~miex.faces.align.apply_alignment`), which is steadier than a detector box: the crop
side is :data:`CROP_IOD` inter-ocular distances and the eye midpoint sits at
(0.5, :data:`EYE_HEIGHT`) of the crop. Both numbers are dlib HOG boxes measured on the built-in
frontal photos (astronaut, Grace Hopper and their mirrors: side 2.10-2.29 IOD, eye line at
0.28-0.30 of the side). In terms of :func:`miex.faces.align_face` this is a margin of
-0.136 (the face square larger than the crop), with the eye line 0.03 of the crop higher
than ``align_face`` would put it.

The crop is cut from the original photo when ``Face.source`` can be read (full resolution);
otherwise from the aligned face crop itself. The generator's change (edited crop minus input
crop) is warped back into the face crop's frame and added there, feathered to zero at the
generator crop's border, so a rendered frame has the same framing and size as ``Face.image``
(the :class:`~miex.generators.Generator` contract) and the pixels the generator leaves alone
are the face crop's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from miex.faces.align import apply_alignment, eye_centres, similarity_from_points, transform_points

#: Crop side in inter-ocular distances (dlib HOG box on frontal faces).
CROP_IOD = 2.2
#: Height of the eye midpoint as a fraction of the crop side.
EYE_HEIGHT = 0.29
#: Width of the feathered border of the pasted change, as a fraction of the generator crop.
FEATHER = 0.08


def crop_eyes(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the two eye centres land in a ``size`` generator crop."""
    half = size / (2.0 * CROP_IOD)
    mid = np.array([size / 2.0, EYE_HEIGHT * size])
    return mid - [half, 0.0], mid + [half, 0.0]


def crop_transform(landmarks: np.ndarray, size: int) -> np.ndarray:
    """2x3 similarity from the landmarks' frame into the ``size`` generator crop."""
    return similarity_from_points(eye_centres(landmarks), crop_eyes(size))


def invert(transform: np.ndarray) -> np.ndarray:
    m = np.vstack([np.asarray(transform, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(m)[:2]


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """``outer ∘ inner`` for 2x3 affine maps."""
    a = np.vstack([outer, [0.0, 0.0, 1.0]])
    b = np.vstack([inner, [0.0, 0.0, 1.0]])
    return (a @ b)[:2]


@dataclass
class GeneratorCrop:
    """The generator's input crop of one face and how it maps into the face crop."""

    image: np.ndarray       # (size, size, 3) uint8 RGB, the generator's input
    to_face: np.ndarray     # 2x3: generator-crop coords -> face-crop coords
    face_image: np.ndarray  # the face crop the output is pasted into


def read_source(source: str) -> np.ndarray | None:
    """The RGB photo a Face was cut from (``path`` or ``path#mirror``), or None if unreadable."""
    if not source:
        return None
    from miex.errors import MiexError
    from miex.faces import load_image

    path, _, flag = source.partition("#")
    try:
        rgb = load_image(path)
    except (MiexError, OSError):
        return None
    return np.ascontiguousarray(rgb[:, ::-1]) if flag == "mirror" else rgb


def generator_crop(face: Any, size: int = 128, *, from_source: bool = True) -> GeneratorCrop:
    """Cut ``face`` (a :class:`miex.faces.Face`) in the checkpoints' framing at ``size``."""
    landmarks = np.asarray(face.landmarks, dtype=np.float64)
    transform = getattr(face, "transform", None)
    source = read_source(getattr(face, "source", "")) if (from_source and transform is not None) else None
    if source is not None:
        to_crop_face = np.asarray(transform, dtype=np.float64)
        source_landmarks = transform_points(invert(to_crop_face), landmarks)
        m = crop_transform(source_landmarks, size)
        image = apply_alignment(source, m, size)
        to_face = compose(to_crop_face, invert(m))
    else:
        m = crop_transform(landmarks, size)
        image = apply_alignment(face.image, m, size)
        to_face = invert(m)
    return GeneratorCrop(image=image, to_face=to_face, face_image=np.asarray(face.image))


def feather_mask(size: int, width: float = FEATHER) -> np.ndarray:
    """(size, size) float32: 1 inside, a raised-cosine ramp to 0 over ``width`` of the side at each edge."""
    ramp_px = max(1.0, width * size)
    d = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float64) + 0.5
    edge = 0.5 - 0.5 * np.cos(np.pi * np.clip(d / ramp_px, 0.0, 1.0))
    return np.outer(edge, edge).astype(np.float32)


def paste_back(crop: GeneratorCrop, edited: np.ndarray) -> np.ndarray:
    """The face crop with the generator's change (``edited - crop.image``) added in its frame."""
    import cv2

    size = crop.image.shape[0]
    out_size = crop.face_image.shape[1], crop.face_image.shape[0]
    change = (edited.astype(np.float32) - crop.image.astype(np.float32)) * feather_mask(size)[..., None]
    moved = cv2.warpAffine(change, crop.to_face, out_size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out = crop.face_image.astype(np.float32) + moved
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
