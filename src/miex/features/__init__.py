"""Features for recognition: onset->apex optical flow, optical strain, resizing, a disk cache,
and the model zoo's inputs: TIM resampling, flow sequences, landmark regions, LBP-TOP, Bi-WOOF."""

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
from miex.features.temporal import resample_clip, tim_weights
from miex.features.sequence import flow_sequence
from miex.features.lbptop import lbp_top
from miex.features.biwoof import bi_woof, bi_woof_features
from miex.features.kinds import FEATURE_KINDS

__all__ = [
    "FeatureCache", "settings_hash", "CHANNELS", "FEATURE_CODE_VERSION", "METHODS", "flow_features",
    "optical_flow", "optical_strain", "to_gray", "model_input", "resample_frames", "resize_image",
    "resample_clip", "tim_weights", "flow_sequence", "lbp_top", "bi_woof", "bi_woof_features", "FEATURE_KINDS",
]
