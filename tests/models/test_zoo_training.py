"""Every registered model trains through ``miex train``'s real pipeline (datasets -> features ->
model -> predictions) on one fixture of 640x480 recordings: 2-fold, 1 epoch, small sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from miex.models import list_models
from miex.train.experiment import config_from_dict
from miex.train.runner import run_experiment
from tests.models.zoo import N_CLIPS, N_SUBJECTS, SMALL, write_recordings


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


def _samples(recordings):
    from miex.datasets import load_dataset

    roots = {k: recordings[k] for k in ("casme2", "samm", "smic")}
    return load_dataset("megc2019", roots, list_path=recordings["list_path"]).samples.reset_index(drop=True)


def test_neighbour_frames_are_centred_on_the_apex(recordings) -> None:
    from miex.models import create
    from miex.train.data import SampleDataset, frame_paths, neighbour_paths

    samples = _samples(recordings)
    atnet = create("atnet", image_size=32, width=4).input_spec
    apex = create("apexme", image_size=32, width=4).input_spec
    row = samples.iloc[0].to_dict()
    paths = neighbour_paths(row, 3)
    assert paths[1] == frame_paths(row)[1] and len(set(paths)) == 3
    x = SampleDataset(samples.iloc[:1], atnet).load(0)
    assert x.shape == (3, 3, 32, 32)
    assert np.array_equal(x[1], SampleDataset(samples.iloc[:1], apex).load(0))


def test_regions_are_found_on_the_recordings(recordings) -> None:
    from miex.datasets.base import read_frame
    from miex.features.regions import face_landmarks, region_point
    from miex.testing.people import FACE_PX, FRAME_SIZE, _placement
    from miex.train.data import frame_paths

    for _, row in _samples(recordings).groupby("subject").head(1).iterrows():
        frame = read_frame(frame_paths(row)[1])
        assert frame.shape == (480, 640, 3)
        marks, found = face_landmarks(frame)
        assert found, row["subject"]
        dataset, local = row["subject"].split("/")
        x0, y0, scale = _placement((dataset, local), FRAME_SIZE, 0)  # where the fixture put the face
        for name in ("l_eye", "r_eye", "l_lips", "r_lips"):
            x, y = region_point(marks, name)
            assert x0 <= x <= x0 + FACE_PX * scale and y0 <= y <= y0 + FACE_PX * scale


def test_classical_model_under_loso_resumes(recordings, cache, tmp_path) -> None:
    config = _config(recordings, cache, {"name": "bi_woof"}, cv="loso")
    out = tmp_path / "loso"
    (first,) = run_experiment(config, out, quiet=True)
    preds = pd.read_parquet(out / "predictions.parquet")
    assert preds["fold"].nunique() == N_SUBJECTS and (preds.groupby("fold")["subject"].nunique() == 1).all()
    assert sorted((out / "checkpoints").glob("*_last.pkl"))
    (again,) = run_experiment(config, out, quiet=True)  # finished folds are not refitted
    assert again.skipped_folds == N_SUBJECTS
    pd.testing.assert_frame_equal(pd.read_parquet(out / "predictions.parquet"), preds)
