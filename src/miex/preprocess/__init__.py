"""Preprocessing between the datasets and the features: the face crop of every clip.

Real recordings are 640x480 (CASME II raw, SMIC-HS, CK+) or larger (SAMM 960x650), with the
face a part of the frame at a per-person position. Recognition models, flow features, AU
extraction and AU pools see the clip through :class:`FrameReader`, which serves a samples row's
frames either as they are on disk or as face crops read from the crop cache
(:mod:`miex.datasets.crops`: one transform per clip, found on the onset frame).
"""

from __future__ import annotations

from miex.preprocess.crop import (
    CROP_CHOICES,
    DEFAULT_CROP,
    CropPlan,
    FrameReader,
    crop_method_of,
    missing_frames,
)

__all__ = ["CROP_CHOICES", "DEFAULT_CROP", "CropPlan", "FrameReader", "crop_method_of", "missing_frames"]
