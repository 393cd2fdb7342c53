"""miex.testing frame sources and fixture writers (used by tests and benchmarks)."""

from __future__ import annotations

import numpy as np
import pytest

from miex.au.space import au_index
from miex.testing import ClipInfo, clip_apex_z, clip_zs, motion_weights, tiny_frames


def _info(emotion="happiness", label=1, apex_index=2):
    return ClipInfo("casme2", "sub01", "EP02_01f", emotion, label, apex_index)


def test_tiny_frames_are_seeded_per_clip():
    source = tiny_frames(8)
    a, b = source(_info(), 3), source(_info(), 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert a[0].shape == (8, 8, 3) and a[0].dtype == np.uint8
    other = source(ClipInfo("casme2", "sub02", "EP02_01f", "happiness", 1, 2), 3)
    assert not np.array_equal(a[0], other[0])
    solid = tiny_frames(16, kind="solid")(_info(), 2)
    assert solid[0].shape == (16, 16, 3) and len(np.unique(solid[0].reshape(-1, 3), axis=0)) == 1
    with pytest.raises(ValueError):
        tiny_frames(8, kind="stripes")


def test_known_motion_profile():
    w = motion_weights(6, 2)
    assert w[0] == 0 and w[2] == 1 and w[-1] == 0 and np.all(np.diff(w[:3]) > 0) and np.all(np.diff(w[2:]) < 0)
    assert motion_weights(3, 0)[0] == 1  # apex = onset (CASME II sub05/EP09_05f)
    z = clip_apex_z(_info())
    assert z[au_index(12)] > 0 and z[au_index(6)] > 0 and z[au_index(4)] == 0
    surprise = clip_apex_z(_info("surprise", 2))
    assert surprise[au_index(1)] > 0 and surprise[au_index(12)] == 0
    zs = clip_zs(_info(), 5)
    assert zs.shape == (5, 17) and np.allclose(zs[2], z) and np.allclose(zs[0], 0)


def test_warp_source_renders_the_apex_motion():
    from miex.testing import has_warp_generator, warp_frames

    if not has_warp_generator(96):
        pytest.skip("warp generator or face models unavailable")
    frames = warp_frames(96)(_info(apex_index=2), 5)
    diffs = [np.abs(f.astype(int) - frames[0].astype(int)).mean() for f in frames]
    assert diffs[0] == 0 and diffs[2] == max(diffs) and diffs[2] > 0.5
    assert diffs[4] < diffs[2]
