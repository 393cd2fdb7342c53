"""Run folders built directly from constructed labels and predictions (no training involved)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pytest

from miex.io import write_parquet, write_text
from miex.seeding import rng

PARTS = ("smic", "casme2", "samm")
SUBJECT_NAMES = {"smic": "s{}", "casme2": "sub{:02d}", "samm": "{:03d}"}


def make_samples(n_subjects_per_part: int = 4, seed: int = 0) -> pd.DataFrame:
    """A small composite-like sample table: dataset, part, subject (qualified), clip, label."""
    rows = []
    for part in PARTS:
        for s in range(1, n_subjects_per_part + 1):
            local = SUBJECT_NAMES[part].format(s if part != "samm" else s + 5)
            g = rng(seed, part, s)
            for k in range(int(g.integers(3, 7))):
                clip = {"smic": f"{local}_x_{k + 1:02d}", "casme2": f"EP{k + 2:02d}_0{s}f", "samm": f"{local}_{k + 1}_{s}"}[part]
                rows.append({"dataset": part, "part": part, "subject": f"{part}/{local}", "clip": clip,
                             "label": int(g.choice(3, p=[0.55, 0.25, 0.2]))})
    return pd.DataFrame(rows)


def assign_folds(samples: pd.DataFrame, protocol: str, n_repeats: int, fold_seed: int = 0, k: int = 3) -> pd.DataFrame:
    """folds.parquet rows: LOSO (one fold per subject) or subject-wise k-fold shuffled per repeat."""
    subjects = sorted(samples["subject"].unique())
    rows = []
    for rep in range(n_repeats):
        if protocol == "loso":
            groups = [[s] for s in subjects]
        else:
            order = rng(fold_seed, "folds", rep).permutation(len(subjects))
            groups = [[subjects[i] for i in order[f::k]] for f in range(k)]
        for f, test in enumerate(groups):
            for s in subjects:
                rows.append({"repeat": rep, "fold": f, "subject": s, "role": "test" if s in test else "train"})
    return pd.DataFrame(rows)


def make_predictions(
    samples: pd.DataFrame,
    folds: pd.DataFrame,
    *,
    accuracy: float | Sequence[float] = 0.6,
    seed: int = 1,
    selections: Sequence[str] = ("last", "val_best", "test_best"),
) -> pd.DataFrame:
    """predictions.parquet rows: pred = truth with probability ``accuracy`` (per fold if a sequence)."""
    test = folds[folds["role"] == "test"]
    rows = []
    for sel_i, sel in enumerate(selections):
        for (rep, fold), g in test.groupby(["repeat", "fold"]):
            acc = accuracy[int(fold) % len(accuracy)] if isinstance(accuracy, (list, tuple)) else accuracy
            sub = samples[samples["subject"].isin(set(g["subject"]))]
            r = rng(seed, sel, int(rep), int(fold))
            for _, s in sub.iterrows():
                pred = s["label"] if r.random() < acc else int((s["label"] + r.integers(1, 3)) % 3)
                probs = np.full(3, 0.1)
                probs[pred] = 0.8
                rows.append({"repeat": int(rep), "fold": int(fold), "selection": sel, "epoch": 5 + sel_i,
                             "dataset": s["dataset"], "part": s["part"], "subject": s["subject"], "clip": s["clip"],
                             "label": int(s["label"]), "pred": int(pred),
                             "prob_0": probs[0], "prob_1": probs[1], "prob_2": probs[2]})
    return pd.DataFrame(rows)


def make_history(folds: pd.DataFrame, epochs: int = 6, seed: int = 2) -> pd.DataFrame:
    rows = []
    for (rep, fold), _ in folds.groupby(["repeat", "fold"]):
        g = rng(seed, int(rep), int(fold))
        for e in range(epochs):
            for split in ("train", "val", "test"):
                base = 0.35 + 0.08 * e * (1.0 if split == "train" else 0.6)
                rows.append({"repeat": rep, "fold": fold, "epoch": e, "split": split, "loss": 1.1 - 0.12 * e + 0.05 * g.random(),
                             "uf1": min(base + 0.05 * g.random(), 1.0), "uar": base, "acc": base, "lr": 1e-4})
    return pd.DataFrame(rows)


def write_run(root: Path, predictions: pd.DataFrame, folds: pd.DataFrame, *, history: pd.DataFrame | None = None,
              config: str = 'mode = "real"\n[model]\nname = "ststnet"\n') -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_parquet(root / "predictions.parquet", predictions)
    write_parquet(root / "folds.parquet", folds)
    write_text(root / "config.toml", config)
    if history is not None:
        history.to_csv(root / "history.csv", index=False)
    return root


@pytest.fixture
def samples() -> pd.DataFrame:
    return make_samples()


@pytest.fixture
def kfold_run(tmp_path: Path, samples: pd.DataFrame) -> Path:
    folds = assign_folds(samples, "kfold", n_repeats=3)
    preds = make_predictions(samples, folds)
    return write_run(tmp_path / "kfold_run", preds, folds, history=make_history(folds))
