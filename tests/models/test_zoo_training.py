"""Every registered model trains through ``miex train``'s real pipeline (datasets -> features ->
model -> predictions) on one fixture of 640x480 recordings: 2-fold, 1 epoch, small sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from miex.models import list_models
from miex.train.experiment import config_from_dict
from miex.train.runner import run_experiment
from tests.models.zoo import SMALL, write_recordings

N_CLIPS = 24


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, str]:
    return write_recordings(tmp_path_factory.mktemp("recordings"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("zoo-features")


@pytest.fixture(scope="module", autouse=True)
def _miex_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MIEX_CACHE_DIR", str(tmp_path_factory.mktemp("miex-cache")))
        yield


def _config(recordings, cache, model: dict, **protocol):
    roots = {k: recordings[k] for k in ("casme2", "samm", "smic")}
    return config_from_dict({
        "experiment": {"name": f"zoo_{model['name']}"},
        "data": {"dataset": "megc2019", "roots": roots, "options": {"list_path": recordings["list_path"]},
                 "feature_cache": str(cache), "flow_method": "farneback"},
        "model": model,
        "protocol": {"mode": "real", "cv": "kfold", "k": 2, "repeats": 1, "val_fraction": 0.0, "seed": 0,
                     **protocol},
        "train": {"schedule": "custom", "epochs": 1, "batch_size": 8, "threads": 1},
    })


def test_every_registered_model_has_small_options() -> None:
    assert sorted(SMALL) == list_models()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_model_trains_through_the_pipeline(name, recordings, cache, tmp_path) -> None:
    out = tmp_path / name
    (summary,) = run_experiment(_config(recordings, cache, {"name": name, **SMALL[name]}), out, quiet=True)
    preds = pd.read_parquet(out / "predictions.parquet")
    last = preds[preds["selection"] == "last"]
    # every clip of the composite is predicted exactly once, by the fold that held out its subject
    assert len(last) == N_CLIPS and last[["subject", "clip"]].drop_duplicates().shape[0] == N_CLIPS
    assert set(last["fold"]) == {0, 1}
    probs = last[["prob_0", "prob_1", "prob_2"]].to_numpy()
    assert np.all(np.isfinite(probs)) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(probs.argmax(axis=1), last["pred"].to_numpy())
    history = pd.read_csv(out / "history.csv")
    train_rows = history[history["split"] == "train"]
    assert len(train_rows) == 2 and np.all(np.isfinite(train_rows["loss"]))
    folds = pd.read_parquet(out / "folds.parquet")
    for fold, rows in last.groupby("fold"):  # no test subject was trained on
        trained = set(folds[(folds["fold"] == fold) & (folds["role"] == "train")]["subject"])
        assert trained.isdisjoint(set(rows["subject"]))
