"""Test and benchmark helpers: fixture trees of the real datasets and frame sources.

Importable by tests and benchmarks alike; writes only under the folders it is given.
"""

from __future__ import annotations

from miex.testing.datasets import (
    CASME2_CLIPS,
    CKPLUS_SEQUENCES,
    FIXTURE_THREE_CLASS,
    MMEW_CLIPS,
    OULU_CLIPS,
    SAMM_CLIPS,
    SMIC_CLIPS,
    ClipSpec,
    Fixture,
    write_casme2_fixture,
    write_ckplus_fixture,
    write_clip,
    write_megc_composite_fixture,
    write_mmew_fixture,
    write_oulu_fixture,
    write_samm_fixture,
    write_smic_fixture,
    write_synthetic_fixture,
)
from miex.testing.frames import (
    APEX_INTENSITY,
    EMOTION_AUS,
    ClipInfo,
    FrameSource,
    clip_apex_z,
    clip_zs,
    default_frame_source,
    has_warp_generator,
    motion_weights,
    photo_frames,
    tiny_frames,
    warp_frames,
)

__all__ = [
    "APEX_INTENSITY",
    "CASME2_CLIPS",
    "CKPLUS_SEQUENCES",
    "EMOTION_AUS",
    "FIXTURE_THREE_CLASS",
    "MMEW_CLIPS",
    "OULU_CLIPS",
    "SAMM_CLIPS",
    "SMIC_CLIPS",
    "ClipInfo",
    "ClipSpec",
    "Fixture",
    "FrameSource",
    "clip_apex_z",
    "clip_zs",
    "default_frame_source",
    "has_warp_generator",
    "motion_weights",
    "photo_frames",
    "tiny_frames",
    "warp_frames",
    "write_casme2_fixture",
    "write_ckplus_fixture",
    "write_clip",
    "write_megc_composite_fixture",
    "write_mmew_fixture",
    "write_oulu_fixture",
    "write_samm_fixture",
    "write_smic_fixture",
    "write_synthetic_fixture",
]
