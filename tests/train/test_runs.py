"""Run folders: determinism on CPU, resume after an interruption, the CLI, and no global side effects."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from miex.cli.main import main
from miex.errors import MiexError
from miex.train.experiment import config_from_dict, dump_toml
from miex.train.runner import run_experiment

PRED_COLUMNS = ["repeat", "fold", "selection", "epoch", "dataset", "part", "subject", "clip", "label", "pred",
                "prob_0", "prob_1", "prob_2"]


def _predictions(out) -> pd.DataFrame:
    return pd.read_parquet(out / "predictions.parquet")


def test_same_seed_same_predictions(proof_config, tmp_path):
    """Branches with the full image augmentation (random rotation, crop, jitter, dropout, shuffling)."""
    raw = proof_config({"name": "branches", "image_size": 32, "width": 4},
                       protocol={"cv": "kfold", "k": 3, "val_fraction": 0.3},
                       train={"epochs": 2, "batch_size": 8})
    rng_before = torch.random.get_rng_state()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    threads_before = torch.get_num_threads()
    run_experiment(config_from_dict(raw), tmp_path / "a", quiet=True)
    # the caller's global torch state is untouched
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    assert torch.are_deterministic_algorithms_enabled() == deterministic_before
    assert torch.get_num_threads() == threads_before
    run_experiment(config_from_dict(raw), tmp_path / "b", quiet=True)
    a, b = _predictions(tmp_path / "a"), _predictions(tmp_path / "b")
    assert list(a.columns) == PRED_COLUMNS
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert set(a["selection"]) == {"last", "val_best", "test_best"}
    # each fold's _best.pt holds exactly the reported val_best epoch (same tie rule)
    val_best = a[a["selection"] == "val_best"].groupby("fold")["epoch"].first()
    for fold, epoch in val_best.items():
        best = torch.load(tmp_path / "a" / "checkpoints" / f"r0_f{fold}_best.pt", weights_only=True)
        assert best["epoch"] == epoch
    # another seed gives other predictions
    raw["protocol"]["seed"] = 1
    run_experiment(config_from_dict(raw), tmp_path / "c", quiet=True)
    c = _predictions(tmp_path / "c")
    assert not np.array_equal(a[["prob_0", "prob_1", "prob_2"]].to_numpy(), c[["prob_0", "prob_1", "prob_2"]].to_numpy())


class Interrupt:
    """Raises KeyboardInterrupt after ``epoch`` epochs of job ``job`` (like Ctrl-C)."""

    def __init__(self, job: str, epoch: int) -> None:
        self.job, self.epoch = job, epoch

    def __call__(self, job, epoch, row) -> None:
        if job.name == self.job and epoch == self.epoch:
            raise KeyboardInterrupt


class Record:
    def __init__(self) -> None:
        self.epochs: list[tuple[str, int]] = []

    def __call__(self, job, epoch, row) -> None:
        self.epochs.append((job.name, epoch))


def test_interrupted_run_resumes_to_the_same_predictions(proof_config, tmp_path, capsys, monkeypatch):
    """Pre-training + fine-tuning, 3-fold with a validation split: stop in the middle of fold 1
    (and once during pre-training), re-run with the CLI, get exactly the uninterrupted result."""
    raw = proof_config({"name": "ststnet"}, protocol={"mode": "pretrain_finetune", "cv": "kfold", "k": 3,
                                                      "val_fraction": 0.3},
                       pretrain={"schedule": "custom", "epochs": 2, "decay_epochs": 1},
                       train={"epochs": 4, "keep_checkpoints": True})
    reference = tmp_path / "reference"
    run_experiment(config_from_dict(raw), reference, quiet=True)

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config_from_dict(raw), out, quiet=True, callbacks=[Interrupt("r0_pretrain", 2)])
    assert not (out / "predictions.parquet").exists()
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config_from_dict(raw), out, quiet=True, callbacks=[Interrupt("r0_f1", 2)])
    assert (out / "parts" / "r0_f0.parquet").is_file() and not (out / "parts" / "r0_f1.parquet").exists()
    partial = _predictions(out)
    assert set(partial["fold"]) == {0}  # finished folds are visible while the run continues

    # resume through the CLI, from the config as a file
    config_file = tmp_path / "exp.toml"
    config_file.write_text(dump_toml(config_from_dict(raw).raw))
    record = Record()
    from miex.train import runner

    original = runner.run_experiment

    def recording(*args, **kw):
        return original(*args, **{**kw, "callbacks": [record]})

    monkeypatch.setattr(runner, "run_experiment", recording)
    assert main(["train", str(config_file), "--out", str(out), "--quiet"]) == 0
    monkeypatch.undo()
    printed = capsys.readouterr()
    assert "report.md" in printed.out and "UF1" in printed.out.upper()
    # fold 0 and the pre-training were not redone; fold 1 continued after its 2nd epoch
    assert record.epochs == [("r0_f1", 3), ("r0_f1", 4)] + [("r0_f2", e) for e in (1, 2, 3, 4)]
    pd.testing.assert_frame_equal(_predictions(out), _predictions(reference), check_exact=True)
    ref_hist = pd.read_csv(reference / "history.csv")
    hist = pd.read_csv(out / "history.csv")
    pd.testing.assert_frame_equal(hist, ref_hist)
    assert {"pretrain", "finetune"} <= set(hist["stage"]) and {"train", "val", "test"} <= set(hist["split"])

    # the run folder follows docs/INTERFACES.md
    folds = pd.read_parquet(out / "folds.parquet")
    assert list(folds.columns) == ["repeat", "fold", "subject", "role"] and set(folds["role"]) == {"train", "val", "test"}
    assert (out / "config.toml").is_file() and (out / "checkpoints" / "r0_f2_last.pt").is_file()
    assert (out / "checkpoints" / "r0_f2_best.pt").is_file() and (out / "checkpoints" / "r0_pretrain_last.pt").is_file()
    state = torch.load(out / "checkpoints" / "r0_f2_last.pt", weights_only=True)
    assert state["done"] and "optimizer" not in state  # finished folds keep their weights only
    log = (out / "train.log").read_text()
    assert "resuming after epoch 2/4" in log

    # a different config in the same folder is refused
    raw["train"]["epochs"] = 5
    with pytest.raises(MiexError, match="different config .*train.epochs: 4 -> 5"):
        run_experiment(config_from_dict(raw), out, quiet=True)


def test_provenance_exclusion_logged_per_fold(proof_config, synthetic_with_provenance, tmp_path, proof_composite):
    """A MiE-X set whose z^MiE came from fixture subjects: per-fold pre-training without them."""
    import warnings

    from miex.datasets import Megc2019Composite, MiexSynthetic

    synth = MiexSynthetic(synthetic_with_provenance)
    raw = proof_config({"name": "ststnet"}, data={"synthetic": str(synthetic_with_provenance)},
                       protocol={"mode": "pretrain_finetune", "cv": "kfold", "k": 3},
                       pretrain={"schedule": "custom", "epochs": 1}, train={"epochs": 1})
    out = tmp_path / "run"
    run_experiment(config_from_dict(raw), out, quiet=True)
    counts = pd.read_csv(out / "fold_counts.csv")
    assert (counts["pretrain"] == "per_fold").all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = Megc2019Composite(proof_composite["casme2"], proof_composite["samm"], proof_composite["smic"],
                                    list_path=proof_composite["list_path"]).samples
    folds = pd.read_parquet(out / "folds.parquet")
    log = (out / "train.log").read_text()
    for row in counts.itertuples():
        test = set(folds[(folds["fold"] == row.fold) & (folds["role"] == "test")]["subject"])
        expected = int(synth.samples["au_subject"].isin(test).sum())
        assert row.synthetic_excluded == expected
        assert row.synthetic_samples == len(synth.samples) - expected
        if expected:
            assert f"r0_f{row.fold}: excluded {expected} synthetic sample(s)" in log
        assert (out / "checkpoints" / f"r0_f{row.fold}_pretrain_last.pt").is_file()
    assert counts["synthetic_excluded"].sum() == int(synth.samples["au_subject"].isin(set(samples["subject"])).sum())
    assert json.loads(json.dumps(counts.to_dict()))  # plain values


def test_parallel_folds_match_sequential(proof_config, tmp_path):
    """[train] parallel_folds trains folds in worker processes; results equal a sequential run
    with the same number of torch threads (1)."""
    raw = proof_config({"name": "ststnet"}, protocol={"cv": "loso", "val_fraction": 0.2}, train={"epochs": 3})
    run_experiment(config_from_dict(raw), tmp_path / "seq", quiet=True)
    raw["train"]["parallel_folds"] = 2
    run_experiment(config_from_dict(raw), tmp_path / "par", quiet=True)
    pd.testing.assert_frame_equal(_predictions(tmp_path / "seq"), _predictions(tmp_path / "par"), check_exact=True)
    hist_seq = pd.read_csv(tmp_path / "seq" / "history.csv")
    pd.testing.assert_frame_equal(hist_seq, pd.read_csv(tmp_path / "par" / "history.csv"))


def test_single_process_without_torchrun(monkeypatch):
    from miex.train.engine import init_distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = init_distributed(torch.device("cpu"))
    assert (ctx.rank, ctx.world_size, ctx.distributed, ctx.is_main) == (0, 1, False, True)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not init_distributed(torch.device("cpu")).distributed


@pytest.mark.slow
def test_torchrun_ddp_on_cpu(proof_config, tmp_path):
    """Two processes under torchrun (gloo): DDP trains, rank 0 writes one complete run folder."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    raw = proof_config({"name": "ststnet"}, protocol={"cv": "kfold", "k": 3, "val_fraction": 0.2},
                       train={"epochs": 2, "batch_size": 8, "device": "cpu"})
    config = tmp_path / "ddp.toml"
    config.write_text(dump_toml(config_from_dict(raw).raw))
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    done = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "miex", "train", str(config),
                           "--out", str(tmp_path / "run"), "--quiet"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("report:") == 1  # rank 0 reports
    pred = _predictions(tmp_path / "run")
    assert sorted(pred["fold"].unique()) == [0, 1, 2] and len(pred[pred["selection"] == "last"]) == 72


def test_progress_bars_per_fold_without_empty_bars(proof_config, tmp_path, capsys):
    """A tqdm bar per fold over its epochs, showing the loss and the validation UF1; a second
    run whose features all come from the cache draws no empty ``features: 0it`` bar."""
    raw = proof_config({"name": "ststnet"}, protocol={"cv": "kfold", "k": 2, "val_fraction": 0.3},
                       train={"epochs": 2})
    run_experiment(config_from_dict(raw), tmp_path / "a", progress=True)
    first = capsys.readouterr().err
    assert "r0_f0" in first and "r0_f1" in first and "epoch" in first
    assert "loss=" in first and "val_uf1=" in first
    run_experiment(config_from_dict(raw), tmp_path / "b", progress=True)
    second = capsys.readouterr().err
    assert "0it" not in second and "features:" not in second
    assert "r0_f0" in second
