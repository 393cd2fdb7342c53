"""Features for recognition: onset->apex optical flow, optical strain, resizing, and a disk cache."""

from __future__ import annotations

from miex.features.cache import FeatureCache, settings_hash
from miex.features.flow import (
    CHANNELS,
    FEATURE_CODE_VERSION,
    METHODS,
    flow_features,
    optical_flow,
    optical_strain,
    to_gray,
)
from miex.features.resize import model_input, resample_frames, resize_image

__all__ = [
    "FeatureCache", "settings_hash", "CHANNELS", "FEATURE_CODE_VERSION", "METHODS", "flow_features",
    "optical_flow", "optical_strain", "to_gray", "model_input", "resample_frames", "resize_image",
]
