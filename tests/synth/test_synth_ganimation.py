"""``miex synth --generator ganimation --weights W``: pairs, 10 frames and clips, deterministic."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from miex.cli.main import main
from miex.generators.ganimation import GANimationNet, file_sha256, save_network
from tests.generators.ganimation_reference import randomise
from tests.synth.conftest import tree_bytes

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def synth(*args: str) -> int:
    return main(["synth", "--quiet", *args])


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "30_net_gen.pth"
    save_network(randomise(GANimationNet(ngf=8, n_blocks=1), seed=9), path)
    return path


@pytest.fixture(scope="module")
def pair_set(face_folder, weights, tmp_path_factory):
    out = tmp_path_factory.mktemp("gan") / "pairs"
    assert synth("--faces", str(face_folder), "--out", str(out), "--ids", "2", "--seed", "1",
                 "--generator", "ganimation", "--weights", str(weights)) == 0
    return out


def test_pairs_record_generator_and_weights(pair_set, weights):
    manifest = pd.read_parquet(pair_set / "manifest.parquet")
    assert len(manifest) == 2 * 3
    assert set(manifest["generator"]) == {"ganimation"}
    assert set(manifest["weights_sha256"]) == {file_sha256(weights)}
    config = json.loads((pair_set / "config.json").read_text())
    assert config["weights"] == str(weights) and config["weights_sha256"] == file_sha256(weights)
    assert file_sha256(weights) in (pair_set / "card.html").read_text()
    import cv2

    onset = cv2.imread(str(pair_set / manifest["dir"][0] / "0.jpg"))
    apex = cv2.imread(str(pair_set / manifest["dir"][0] / "1.jpg"))
    assert onset.shape == apex.shape == (128, 128, 3) and not np.array_equal(onset, apex)


def test_workers_give_identical_bytes(pair_set, face_folder, weights, tmp_path):
    out = tmp_path / "again"
    assert synth("--faces", str(face_folder), "--out", str(out), "--ids", "2", "--seed", "1",
                 "--generator", "ganimation", "--weights", str(weights), "--workers", "2") == 0
    assert tree_bytes(out) == tree_bytes(pair_set)


@pytest.mark.parametrize("frames", ["10", "clip"])
def test_video_variants(face_folder, weights, tmp_path, frames):
    out = tmp_path / frames
    assert synth("--faces", str(face_folder), "--out", str(out), "--ids", "1", "--frames", frames,
                 "--duration", "0.04-0.06", "--generator", "ganimation", "--weights", str(weights)) == 0
    manifest = pd.read_parquet(out / "manifest.parquet")
    for row in manifest.itertuples():
        assert len(list((out / row.dir).glob("*.jpg"))) == row.n_frames
    if frames == "10":
        assert set(manifest["n_frames"]) == {10}


def test_bad_weights_fail_before_the_output_exists(face_folder, tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    state = GANimationNet(ngf=8, n_blocks=1).state_dict()
    torch.save({k: v for k, v in state.items() if not k.startswith("stem")}, bad)
    out = tmp_path / "never"
    assert synth("--faces", str(face_folder), "--out", str(out), "--ids", "1",
                 "--generator", "ganimation", "--weights", str(bad)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("miex: error:") and str(bad) in err and len(err.splitlines()) == 1
    assert not out.exists()
    assert synth("--faces", str(face_folder), "--out", str(out), "--ids", "1", "--generator", "ganimation") == 2
    assert "needs --weights" in capsys.readouterr().err
    assert not out.exists()
