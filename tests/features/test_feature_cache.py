"""FeatureCache: stores per clip and settings, never recomputes a hit, new settings -> new key."""

from __future__ import annotations

import json

import numpy as np
import pytest

from miex.errors import MiexError
from miex.features import FeatureCache, flow_features, settings_hash
from miex.features.flow import FEATURE_CODE_VERSION

SETTINGS = {"method": "farneback", "size": 28, "channels": ["u", "v", "strain"], "crop": {"size": 128, "margin": 0.2}}


class Counter:
    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self):
        self.calls += 1
        return self.fn()


@pytest.fixture(scope="module")
def face_pair(astronaut_rgb):
    onset = astronaut_rgb[48:176, 164:292]
    apex = np.roll(onset, 2, axis=1)
    return onset, apex


def test_hit_returns_identical_array_without_recomputing(tmp_path, face_pair) -> None:
    onset, apex = face_pair
    compute = Counter(lambda: flow_features(onset, apex, size=28, method="farneback"))
    cache = FeatureCache(tmp_path)
    first = cache.get_or_compute("casme2/sub01/EP02_01f", SETTINGS, compute)
    second = cache.get_or_compute("casme2/sub01/EP02_01f", SETTINGS, compute)
    third = FeatureCache(tmp_path).get_or_compute("casme2/sub01/EP02_01f", dict(reversed(SETTINGS.items())), compute)
    assert compute.calls == 1
    assert (cache.hits, cache.misses) == (1, 1)
    for arr in (second, third):
        assert arr.dtype == first.dtype == np.float32 and np.array_equal(arr, first)
    path = cache.path("casme2/sub01/EP02_01f", SETTINGS)
    assert path.is_file() and path.suffix == ".npy" and path.parent.name == "sub01"
    meta = json.loads((tmp_path / settings_hash(SETTINGS) / "settings.json").read_text())
    assert meta["method"] == "farneback" and meta["_feature_code"] == FEATURE_CODE_VERSION
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]  # no leftovers of atomic writes


def test_settings_or_clip_change_gives_a_new_entry(tmp_path) -> None:
    cache = FeatureCache(tmp_path)
    compute = Counter(lambda: np.arange(6, dtype=np.float32))
    cache.get_or_compute("clip", SETTINGS, compute)
    for changed in ({**SETTINGS, "size": 32}, {**SETTINGS, "method": "tvl1"},
                    {**SETTINGS, "crop": {"size": 128, "margin": 0.3}}, {**SETTINGS, "channels": ["u", "v"]}):
        assert settings_hash(changed) != settings_hash(SETTINGS)
        assert cache.path("clip", changed) != cache.path("clip", SETTINGS)
        cache.get_or_compute("clip", changed, compute)
    cache.get_or_compute("other", SETTINGS, compute)
    assert compute.calls == 6


def test_corrupt_file_is_recomputed(tmp_path) -> None:
    cache = FeatureCache(tmp_path)
    compute = Counter(lambda: np.ones((2, 3), np.float32))
    cache.get_or_compute("a", SETTINGS, compute)
    cache.path("a", SETTINGS).write_bytes(b"truncated")
    again = cache.get_or_compute("a", SETTINGS, compute)
    assert compute.calls == 2 and np.array_equal(again, np.ones((2, 3)))


def test_keys_are_sanitised_but_stay_distinct(tmp_path) -> None:
    cache = FeatureCache(tmp_path)
    p1, p2 = cache.path("s 1/clip:a", SETTINGS), cache.path("s_1/clip_a", SETTINGS)
    assert p1 != p2 and p1.is_relative_to(tmp_path)
    with pytest.raises(MiexError, match=r"'\.\.'"):
        cache.path("../escape", SETTINGS)
    with pytest.raises(MiexError, match="JSON"):
        cache.path("a", {"fn": object()})
