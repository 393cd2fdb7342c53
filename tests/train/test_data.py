"""The training Dataset: inputs per InputSpec kind, the MiE-X augmentation, seeded streams, loaders."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from miex.models import create
from miex.preprocess import crop as preprocess_crop
from miex.train.data import Augment, SampleDataset, center_params, draw_params, make_loader, transform_frames


@pytest.fixture(scope="module")
def samples(proof_composite):
    from miex.datasets import Megc2019Composite

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = Megc2019Composite(proof_composite["casme2"], proof_composite["samm"], proof_composite["smic"],
                               list_path=proof_composite["list_path"])
    return ds.samples.iloc[:12].reset_index(drop=True)


def test_one_transform_for_onset_and_apex(astronaut_rgb):
    img = np.ascontiguousarray(astronaut_rgb[:256, 100:356])
    gen = np.random.default_rng(3)
    aug = Augment()
    load = aug.load_size(112)
    assert load == 128  # 256/224 of 112
    for _ in range(5):
        params = draw_params(gen, load, 112, aug)
        assert -10 <= params["angle"] <= 10
        assert all(0.8 <= params[k] <= 1.2 for k in ("brightness", "contrast", "saturation"))
        x = transform_frames([img, img.copy()], params, load, 112, (0.5,) * 3, (0.5,) * 3)
        assert x.shape == (2, 3, 112, 112) and x.dtype == np.float32
        assert np.array_equal(x[0], x[1])  # identical frames stay identical: one shared transform
        assert -1.0 <= x.min() and x.max() <= 1.0
    # the evaluation transform is the centre crop of the resized frame, without colour changes
    x = transform_frames([img], center_params(load, 112), load, 112, None, None)[0]
    import cv2

    ref = cv2.resize(img, (load, load), interpolation=cv2.INTER_AREA)[8:120, 8:120].astype(np.float32) / 255
    assert np.allclose(x.transpose(1, 2, 0), ref, atol=1e-6)


def test_augmentation_streams_are_seeded(samples):
    spec = create("branches", image_size=64, width=4).input_spec
    ds = SampleDataset(samples, spec, train=True, seed=7, stream="job")
    ds.set_epoch(0)
    a0 = ds.load(3)
    assert np.array_equal(a0, SampleDataset(samples, spec, train=True, seed=7, stream="job").load(3))
    ds.set_epoch(1)
    assert not np.array_equal(a0, ds.load(3))  # a new epoch draws a new transform
    other = SampleDataset(samples, spec, train=True, seed=8, stream="job")
    assert not np.array_equal(a0, other.load(3))
    ev = SampleDataset(samples, spec, train=False, seed=7)
    ev.set_epoch(5)
    assert np.array_equal(ev.load(3), SampleDataset(samples, spec, train=False, seed=99).load(3))
    assert a0.shape == (2, 3, 64, 64)
    # onset and apex of one sample got the same geometric transform: their difference is small
    assert np.abs(a0[1] - a0[0]).mean() < 0.05 < np.abs(a0[0] - ds.load(4)[0]).mean() + 0.05


def test_loader_batches_do_not_depend_on_workers(samples):
    spec = create("apexme", image_size=64, width=4).input_spec
    ds = SampleDataset(samples, spec, train=True, seed=1, stream="x")
    batches = {}
    for workers in (0, 2):
        loader = make_loader(ds, batch_size=5, train=True, seed=1, epoch=2, workers=workers)
        batches[workers] = [(x.clone(), y.clone(), i.clone()) for x, y, i in loader]
    assert [b[2].tolist() for b in batches[0]] == [b[2].tolist() for b in batches[2]]
    for (x0, y0, _), (x2, y2, _) in zip(batches[0], batches[2]):
        assert torch.equal(x0, x2) and torch.equal(y0, y2)
    order = [i for b in batches[0] for i in b[2].tolist()]
    assert sorted(order) == list(range(12)) and order != list(range(12))  # shuffled, every sample once
    nxt = [i for _, _, b in make_loader(ds, batch_size=5, train=True, seed=1, epoch=3) for i in b.tolist()]
    assert nxt != order  # reshuffled per epoch
    assert batches[0][0][0].shape == (5, 3, 64, 64)
    # 12 samples in batches of 11 would leave a batch of one (BatchNorm cannot train on it): dropped
    assert [len(b) for _, _, b in make_loader(ds, batch_size=11, train=True, seed=1)] == [11]


def test_flow_features_cached_without_decoding(samples, tmp_path, monkeypatch):
    spec = create("ststnet").input_spec
    ds = SampleDataset(samples, spec, feature_cache=tmp_path, flow_method="farneback")
    assert ds.prepare() == (0, 12)
    x = ds.load(0)
    assert x.shape == (3, 28, 28) and 0.0 <= x.min() and x.max() <= 1.0

    def no_decoding(path):
        raise AssertionError(f"decoded {path} although its features are cached")

    monkeypatch.setattr(preprocess_crop, "read_frame", no_decoding)
    again = SampleDataset(samples, spec, feature_cache=tmp_path, flow_method="farneback")
    assert again.prepare(workers=2) == (12, 0)
    assert np.array_equal(again.load(0), x)
    # another flow method is another cache entry
    monkeypatch.undo()
    dis = SampleDataset(samples, spec, feature_cache=tmp_path, flow_method="dis")
    assert dis.prepare() == (0, 12)


def test_video_and_apex_inputs(samples):
    video = create("dtscnn", image_size=32, frames=(4, 8), width=4).input_spec
    x = SampleDataset(samples, video, train=True, seed=0).load(0)
    assert x.shape == (3, 8, 32, 32) and x.dtype == np.float32
    apex = create("apexme", image_size=48, width=4).input_spec
    assert SampleDataset(samples, apex).load(1).shape == (3, 48, 48)
