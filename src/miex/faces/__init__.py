"""Faces: loading photos, dlib detection and landmarks, eye alignment, face pools.

See ``docs/INTERFACES.md`` (``miex.faces``) for the contract and
:mod:`miex.faces.align` for the crop geometry.
"""

from __future__ import annotations

from miex.faces.align import (
    DEFAULT_MARGIN,
    DEFAULT_SIZE,
    Face,
    align_face,
    alignment_transform,
    apply_alignment,
    canonical_eyes,
    eye_centres,
    outside_fraction,
    transform_points,
)
from miex.faces.detect import FaceDetector, detect_face, locate_face
from miex.faces.image import IMAGE_SUFFIXES, load_image
from miex.faces.pool import BuiltinFacePool, CelebAPool, FacePool, builtin_face_paths, default_cache_dir

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_SIZE",
    "IMAGE_SUFFIXES",
    "BuiltinFacePool",
    "CelebAPool",
    "Face",
    "FaceDetector",
    "FacePool",
    "align_face",
    "alignment_transform",
    "apply_alignment",
    "builtin_face_paths",
    "canonical_eyes",
    "default_cache_dir",
    "detect_face",
    "eye_centres",
    "load_image",
    "locate_face",
    "outside_fraction",
    "transform_points",
]
