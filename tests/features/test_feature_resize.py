"""Resizing helpers and ``model_input``: each model gets the array its input_spec promises."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from miex.errors import MiexError
from miex.features import FeatureCache, model_input, resample_frames, resize_image
from miex.models import create


@pytest.fixture(scope="module")
def sample(astronaut_rgb):
    crop = astronaut_rgb[48:176, 164:292]
    frames = np.stack([np.roll(crop, k, axis=1) for k in range(5)])  # a 5-frame clip moving right
    return {"onset": frames[0], "apex": frames[3], "frames": frames, "label": 1, "dataset": "fixture", "clip": "c1"}


def test_resize_image_shapes_and_dtype(astronaut_rgb) -> None:
    small = resize_image(astronaut_rgb, 64)
    assert small.shape == (64, 64, 3) and small.dtype == np.uint8
    assert resize_image(astronaut_rgb[..., 0], (30, 40)).shape == (30, 40)
    big = resize_image(small, 100)
    assert big.shape == (100, 100, 3)
    # area averaging keeps the mean brightness
    assert abs(float(small.mean()) - float(astronaut_rgb.mean())) < 1.0


def test_resample_frames_linear_in_time() -> None:
    clip = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 2, 2), np.float32)
    out = resample_frames(clip, 9)
    assert out.shape == (9, 2, 2)
    assert np.allclose(out[:, 0, 0], np.linspace(0, 4, 9))
    assert np.allclose(resample_frames(clip, 3)[:, 0, 0], [0, 2, 4])


@pytest.mark.parametrize("name,kw", [
    ("branches", dict(image_size=64, width=8)),
    ("apexme", dict(image_size=64, width=8)),
    ("miacnet", dict(image_size=64, width=8)),
    ("ststnet", {}),
    ("offapexnet", {}),
    ("dtscnn", dict(image_size=32, frames=(4, 8), width=4)),
])
def test_model_input_feeds_each_model(sample, name: str, kw: dict) -> None:
    model = create(name, **kw).eval()
    x = model_input(sample, model.input_spec, flow_method="farneback")
    assert x.dtype == np.float32
    assert x.shape == model.input_spec.shape(1)[1:]
    batch = torch.from_numpy(np.stack([x, x]))
    with torch.no_grad():
        assert model(batch).shape == (2, 3)


def test_image_normalisation_is_mean_std_half(sample) -> None:
    spec = create("branches", image_size=128, width=8).input_spec
    x = model_input(sample, spec)
    expected = (sample["onset"].astype(np.float32) / 255.0 - 0.5) / 0.5
    assert np.allclose(x[0], expected.transpose(2, 0, 1), atol=1e-6)
    assert x.min() >= -1.0 and x.max() <= 1.0


def test_flow_inputs_go_through_the_cache(tmp_path, sample) -> None:
    spec = create("ststnet").input_spec
    cache = FeatureCache(tmp_path)
    a = model_input(sample, spec, flow_method="dis", cache=cache, cache_key="fixture/c1", cache_settings={"crop": 128})
    b = model_input(sample, spec, flow_method="dis", cache=cache, cache_key="fixture/c1", cache_settings={"crop": 128})
    assert (cache.misses, cache.hits) == (1, 1) and np.array_equal(a, b)


def test_video_model_needs_frames(sample) -> None:
    spec = create("dtscnn").input_spec
    with pytest.raises(MiexError, match="no 'frames'.*clip-mode"):
        model_input({"onset": sample["onset"], "apex": sample["apex"], "clip": "c1"}, spec)
