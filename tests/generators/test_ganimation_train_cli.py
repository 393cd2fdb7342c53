"""``miex generator train`` end to end at a tiny size: data sources, skips, outputs, resume."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from miex.au.space import AU_NAMES
from miex.cli.main import main
from miex.faces import builtin_face_paths
from miex.generators.ganimation import load_network

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ["--size", "32", "--ngf", "4", "--blocks", "1", "--ndf", "4", "--critic-layers", "2", "--batch-size", "2",
        "--epochs-constant", "1", "--epochs-decay", "1", "--log-every", "1", "--critic-steps", "2", "--device", "cpu",
        "--quiet"]


@pytest.fixture(scope="module", autouse=True)
def face_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MIEX_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def face_folder(tmp_path_factory):
    """Four real faces (two photos and mirrors), a corrupt file and a photo that has no AU row."""
    root = tmp_path_factory.mktemp("faces")
    for path in builtin_face_paths():
        bgr = cv2.imread(str(path))
        cv2.imwrite(str(root / f"{path.stem}.jpg"), bgr)
        cv2.imwrite(str(root / f"{path.stem}_mirror.jpg"), bgr[:, ::-1])
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    shutil.copy(root / "astronaut.jpg", root / "unlabelled.jpg")
    return root


def _z(k: int) -> np.ndarray:
    z = np.zeros(len(AU_NAMES))
    z[k % len(AU_NAMES)] = 0.2 * (k + 1)
    return z


@pytest.fixture(scope="module")
def au_table(face_folder, tmp_path_factory):
    rows = [{"image": name, **dict(zip(AU_NAMES, _z(k)))}
            for k, name in enumerate(["astronaut.jpg", "astronaut_mirror", "grace_hopper.jpg", "grace_hopper_mirror.jpg",
                                      "broken.jpg"])]
    path = tmp_path_factory.mktemp("aus") / "aus.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def openface_dir(tmp_path_factory):
    """FaceLandmarkImg-style CSVs (``face, confidence, AUxx_r``), one per labelled photo."""
    root = tmp_path_factory.mktemp("openface")
    names = ["astronaut", "astronaut_mirror", "grace_hopper", "grace_hopper_mirror"]
    for k, stem in enumerate(names):
        header = ["face", "confidence", *[f"{a}_r" for a in AU_NAMES]]
        values = ["0", "0.95", *[f"{5 * v:.2f}" for v in _z(k)]]
        (root / f"{stem}.csv").write_text(", ".join(header) + "\n" + ", ".join(values) + "\n")
    return root


def test_train_on_an_au_table_then_resume(face_folder, au_table, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["generator", "train", "--faces", str(face_folder), "--aus", str(au_table), "--out", str(out), *TINY]
    assert main(args + ["--max-steps", "3"]) == 0  # interrupted mid-epoch 2 (2 steps per epoch)
    first = capsys.readouterr()
    assert "4 labelled faces" in first.out and "skipped 2 input(s)" in first.out
    assert (out / "checkpoints" / "1_net_gen.pth").exists() and not (out / "checkpoints" / "2_net_gen.pth").exists()
    assert main(args) == 0  # resumes at step 3
    resumed = torch.load(out / "checkpoints" / "2_net_gen.pth", weights_only=True)
    clean = tmp_path / "clean"
    assert main(["generator", "train", "--faces", str(face_folder), "--aus", str(au_table), "--out", str(clean), *TINY]) == 0
    uninterrupted = torch.load(clean / "checkpoints" / "2_net_gen.pth", weights_only=True)
    assert resumed.keys() == uninterrupted.keys()
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)  # resume = uninterrupted run
    net = load_network(out / "checkpoints" / "2_net_gen.pth")
    assert net.config["ngf"] == 4 and net.config["n_blocks"] == 1
    losses = pd.read_csv(out / "losses.csv")
    assert list(losses["step"]) == [1, 2, 3, 4] and {"g_cycle", "d_gp", "g_au"} <= set(losses.columns)
    grid = cv2.imread(str(out / "samples" / "epoch_002.png"))
    assert grid is not None and grid.shape[0] > 4 * 32  # 4 faces x (input + 8 single-AU edits)
    data = np.load(out / "data" / "faces_32.npy")
    assert data.shape == (4, 32, 32, 3)


def test_train_on_openface_csvs(face_folder, openface_dir, tmp_path, capsys):
    out = tmp_path / "of"
    assert main(["generator", "train", "--faces", str(face_folder), "--aus", str(openface_dir), "--out", str(out),
                 *TINY, "--epochs-decay", "0"]) == 0
    assert "4 labelled faces" in capsys.readouterr().out
    index = pd.read_parquet(out / "data" / "index.parquet").sort_values("name")
    row = index[index["name"] == "grace_hopper"].iloc[0]
    assert row["AU04"] == pytest.approx(0.6, abs=1e-6)  # _z(2) = 0.6 on the third AU, read as AUxx_r / 5


def test_bad_inputs_are_one_line_errors(face_folder, tmp_path, capsys):
    bad = tmp_path / "aus.csv"
    bad.write_text("image,AU01\nastronaut.jpg,0.1\n")
    assert main(["generator", "train", "--faces", str(face_folder), "--aus", str(bad), "--out", str(tmp_path / "x"),
                 *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("miex: error:") and str(bad) in err and "AU02" in err and len(err.splitlines()) == 1
    assert main(["generator", "train", "--faces", str(face_folder), "--aus", str(bad), "--out", str(tmp_path / "y"),
                 "--size", "30", "--critic-layers", "2"]) == 2
    assert "--size" in capsys.readouterr().err


def test_torchrun_two_processes_on_cpu(face_folder, au_table, tmp_path):
    """Plain torch.distributed data parallelism (gloo on CPU): both ranks step, rank 0 writes."""
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29531",
           "-m", "miex", "generator", "train", "--faces", str(face_folder), "--aus", str(au_table), "--out", str(out),
           *TINY, "--batch-size", "1", "--epochs-decay", "0"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    losses = pd.read_csv(out / "losses.csv")
    assert list(losses["step"]) == [1, 2]  # 4 faces / (batch 1 x 2 processes) = 2 steps per epoch
    assert load_network(out / "checkpoints" / "1_net_gen.pth").config["ngf"] == 4
