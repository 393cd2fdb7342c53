"""The cross-dataset protocol: train on one dataset's tree, test on another's (CASME II -> SMIC-HS)."""

from __future__ import annotations

import json

import pytest

from miex.errors import MiexError
from miex.evaluate.report import evaluate_run
from miex.train.experiment import config_from_dict, dry_run
from miex.train.runner import run_experiment


def _cross(proof_config, **protocol):
    raw = proof_config({"name": "ststnet"}, protocol={"cv": "cross_dataset", **protocol}, train={"epochs": 6})
    raw["data"].update({"dataset": "smic", "train_datasets": ["casme2"], "options": {}})
    return raw


def test_cross_dataset_casme2_to_smic(proof_config, tmp_path):
    from miex.datasets import load_dataset

    raw = _cross(proof_config)
    n_train = len(load_dataset("casme2", raw["data"]["roots"]["casme2"]).samples)
    n_test = len(load_dataset("smic", raw["data"]["roots"]["smic"]).samples)
    config = config_from_dict(raw, "cross")
    table = dry_run(config)
    assert len(table) == 1 and table["train_samples"].iloc[0] == n_train and table["test_samples"].iloc[0] == n_test
    assert any(f"cross-dataset: train on casme2 ({n_train} samples), test on smic ({n_test} samples)" in n
               for n in table.attrs["notes"])
    summary = run_experiment(config, tmp_path / "run", quiet=True)[0]
    pred = summary.predictions
    # predictions hold the test dataset's samples only, each once per selection
    assert set(pred["dataset"]) == {"smic"} and set(pred["subject"].str.split("/").str[0]) == {"smic"}
    assert len(pred[pred["selection"] == "last"]) == n_test
    notes = json.loads((tmp_path / "run" / "data.json").read_text())
    assert notes["cross_dataset"] == {"train": {"casme2": n_train}, "test": {"smic": n_test}}
    metrics = evaluate_run(tmp_path / "run")
    assert metrics["protocol"]["kind"] == "cross-dataset" and f"casme2 ({n_train})" in metrics["protocol"]["label"]
    assert "cross_dataset" in metrics["leaderboard"] and not metrics["leaderboard"]["run_placed"]


def test_cross_dataset_needs_training_sets(proof_config):
    raw = _cross(proof_config)
    raw["data"]["train_datasets"] = []
    with pytest.raises(MiexError, match="needs \\[data\\] train_datasets"):
        config_from_dict(raw, "cross")
    raw["data"]["train_datasets"] = ["smic"]
    with pytest.raises(MiexError, match="must not include the test set"):
        config_from_dict(raw, "cross")


@pytest.mark.parametrize("mode", ["direct", "pretrain_finetune"])
def test_cross_dataset_with_mie_x_modes(proof_config, mode):
    """Direct deployment and pre-train + fine-tune plan one fold per repeat on the cross-dataset
    split: the MiE-X set (direct) or the training dataset (fine-tuning) trains, the test set tests."""
    config = config_from_dict(_cross(proof_config, mode=mode), "cross")
    table = dry_run(config)
    assert len(table) == 1 and table["synthetic_samples"].iloc[0] > 0
    assert (table["extra_samples"] == 0).all()
