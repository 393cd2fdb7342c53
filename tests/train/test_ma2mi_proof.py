"""Proof on this CPU (issue 11, section 6), the short version: MA2MI-style pre-training on 640x480
macro-expression videos of five real people learns to predict the latent of future frames -- better
than the "nothing moves after frame t" baseline, without collapse -- and its checkpoint initialises
a MIACNet recognition run (``miex train`` with ``[model] init_weights``, through the face-crop
stage) on a CASME II-layout micro-expression fixture of six *other* people, next to the same
MIACNet from scratch.

The comparison over 3 repeats with ``miex compare`` runs in ``benchmarks/ma2mi.py --proof``; its
figures are in the issue's closing note. Here both fine-tuning scores are printed, not asserted
(one repeat of 54 clips is too noisy to assert an ordering with a margin).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from miex.cli.main import main
from miex.testing.ma2mi import write_finetune_casme2, write_pretrain_videos


@pytest.mark.slow
def test_pretraining_learns_future_latents_and_initialises_finetuning(tmp_path, capsys):
    videos = tmp_path / "videos"
    write_pretrain_videos(videos, lfw=(6, 7, 8, 9), photos=("grace_hopper",), variants=("plain",), n_frames=12)
    run = tmp_path / "pretrain"
    args = ["pretrain", "ma2mi", "--videos", str(videos), "--out", str(run), "--epochs", "5", "--size", "64",
            "--width", "16", "--set", 'data.crop_method="meb"', "--set", "train.threads=1", "--quiet"]
    assert main(args) == 0, capsys.readouterr().err
    loss = pd.read_csv(run / "loss.csv")
    first, last = loss.iloc[0], loss.iloc[-1]
    with capsys.disabled():
        print(f"\n[proof] MA2MI pre-training on 30 videos: loss {first['loss']:.3f} -> {last['loss']:.3f}, "
              f"copy-frame-t baseline {last['copy_loss']:.3f}, target_std {last['target_std']:.3f}, "
              f"{last['pairs_per_s']:.0f} pairs/s")
    # it learns, and predicts the future better than "the face stays as at frame t"
    assert last["latent_loss"] < 0.8 * first["latent_loss"]
    assert last["latent_loss"] < 0.85 * last["copy_loss"]
    assert last["target_std"] > 0.2  # no collapse of the target features
    fixture = write_finetune_casme2(tmp_path / "casme2", clips_per_class=2)
    config = tmp_path / "finetune.toml"
    config.write_text(
        f'[data]\ndataset = "casme2"\nroots = {{ casme2 = "{fixture.root}" }}\npreload = true\n'
        f'feature_cache = "{tmp_path / "features"}"\ncrop = "auto"\n'
        '[model]\nname = "miacnet"\nimage_size = 64\nwidth = 16\n'
        '[protocol]\nmode = "real"\ncv = "kfold"\nk = 3\nrepeats = 1\nval_fraction = 0.0\n'
        '[train]\nschedule = "custom"\nepochs = 6\nbatch_size = 16\nthreads = 1\n')
    scores = {}
    for name, init in (("scratch", '""'), ("ma2mi", f'"{run / "checkpoints" / "last.pt"}"')):
        out = tmp_path / name
        assert main(["train", str(config), "--out", str(out), "--set", f"model.init_weights={init}", "--quiet"]) == 0
        pred = pd.read_parquet(out / "predictions.parquet")
        pred = pred[pred["selection"] == "last"]
        assert len(pred) == len(fixture.clips) and np.isfinite(pred["prob_0"]).all()
        scores[name] = f1_score(pred["label"], pred["pred"], average="macro")
    with capsys.disabled():
        print(f"[proof] MIACNet on 6 held-out people, 3-fold, 6 epochs, last epoch: UF1 scratch "
              f"{scores['scratch']:.3f}, MA2MI-initialised {scores['ma2mi']:.3f}")
    # a junk init file is refused before training, in one line
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage")
    assert main(["train", str(config), "--out", str(tmp_path / "junk"), "--set", f'model.init_weights="{junk}"',
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("miex: error:") and "junk.pt" in err[-1]
