"""Per-fold results: epoch selection, prediction and history rows, and the run's collected files.

Selections written to ``predictions.parquet``: ``last`` (the last epoch; the default report),
``val_best`` (best validation UF1, ties: lower validation loss, then the earlier epoch; only with
a validation carve-out) and ``test_best`` (best test UF1: optimistic, for comparison with papers
that select on the test set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from miex.evaluate.metrics import SELECTIONS
from miex.io import write_parquet, write_text
from miex.train.protocols import Fold

HISTORY_COLUMNS = ["repeat", "fold", "epoch", "split", "loss", "uf1", "uar", "acc", "lr", "stage"]


def select_epochs(logits: np.ndarray, labels: np.ndarray, val_pos: np.ndarray, test_pos: np.ndarray) -> dict[str, int]:
    """0-based epoch per selection (see the module docstring); ``val_best`` only with val rows."""
    from miex.train.engine import selection_key

    n_epochs = logits.shape[0]
    out = {"last": n_epochs - 1}
    for name, pos in (("val_best", val_pos), ("test_best", test_pos)):
        if len(pos) == 0:
            continue
        keys = [(*selection_key(logits[e, pos], labels[pos]), -e) for e in range(n_epochs)]
        out[name] = int(-max(keys)[2])
    return out


def fold_predictions(fold: Fold, samples: pd.DataFrame, logits: np.ndarray, eval_index: np.ndarray) -> pd.DataFrame:
    """Prediction rows of one fold from a job's per-epoch logits over ``eval_index`` rows."""
    from miex.train.engine import softmax

    where = {int(r): i for i, r in enumerate(eval_index)}
    val_pos = np.array([where[int(r)] for r in fold.val], dtype=np.int64)
    test_pos = np.array([where[int(r)] for r in fold.test], dtype=np.int64)
    labels_all = samples["label"].astype("int64").to_numpy()[eval_index]
    chosen = select_epochs(logits, labels_all, val_pos, test_pos)
    test = samples.iloc[fold.test]
    frames = []
    n_classes = logits.shape[-1]
    for selection in SELECTIONS:
        if selection not in chosen:
            continue
        e = chosen[selection]
        probs = softmax(logits[e, test_pos].astype(np.float64))
        df = pd.DataFrame({
            "repeat": fold.repeat, "fold": fold.fold, "selection": selection, "epoch": e + 1,
            "dataset": test["dataset"].astype(str).to_numpy(), "part": test["part"].astype(str).to_numpy(),
            "subject": test["subject"].astype(str).to_numpy(), "clip": test["clip"].astype(str).to_numpy(),
            "label": test["label"].astype("int64").to_numpy(), "pred": probs.argmax(1).astype("int64"),
        })
        for c in range(n_classes):
            df[f"prob_{c}"] = probs[:, c]
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def fold_history(fold: Fold, samples: pd.DataFrame, logits: np.ndarray, eval_index: np.ndarray,
                 train_history: list[dict] | None, stage: str, *, include_train: bool = True) -> pd.DataFrame:
    """History rows of one fold: the job's training rows (``include_train``; not for a model
    shared by all folds) and the val/test metrics of every epoch."""
    from miex.train.engine import cross_entropy, scores

    rows = []
    lr_of = {}
    for h in train_history or []:
        if include_train:
            rows.append({"repeat": fold.repeat, "fold": fold.fold, "stage": stage, **h})
        lr_of[int(h["epoch"])] = h["lr"]
    where = {int(r): i for i, r in enumerate(eval_index)}
    labels_all = samples["label"].astype("int64").to_numpy()[eval_index]
    for role in ("val", "test"):
        pos = np.array([where[int(r)] for r in fold.rows(role)], dtype=np.int64)
        if len(pos) == 0:
            continue
        for e in range(logits.shape[0]):
            lg = logits[e, pos]
            rows.append({"repeat": fold.repeat, "fold": fold.fold, "epoch": e + 1, "split": role,
                         "loss": cross_entropy(lg, labels_all[pos]), **scores(labels_all[pos], lg.argmax(1)),
                         "lr": lr_of.get(e + 1, float("nan")), "stage": stage})
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


@dataclass
class RunSummary:
    out: Path
    predictions: pd.DataFrame
    seconds: float
    skipped_folds: int = 0

    def table(self) -> pd.DataFrame:
        """Pooled UF1/UAR/accuracy of the whole set per selection: mean and sample std (ddof=1,
        NaN for one repeat) over repeats, from :mod:`miex.evaluate.metrics`."""
        from miex.evaluate.metrics import METRICS, pooled_scores, summarize

        summary = summarize(pooled_scores(self.predictions, parts=False))
        out = summary[["selection"]].copy()
        for key in METRICS:
            out[key] = summary[f"{key}_mean"].to_numpy()
            out[f"{key}_std"] = summary[f"{key}_std"].to_numpy()
        return out.reset_index(drop=True)


def write_history(path: Path, df: pd.DataFrame, is_main: bool) -> None:
    if is_main:
        write_text(path, df.to_csv(index=False))


class Collector:
    """Keeps the per-fold parts in memory and rewrites ``predictions.parquet`` / ``history.csv``
    from them (each part file is read once, not after every fold)."""

    def __init__(self, out: Path) -> None:
        self.parts = out / "parts"
        self._frames: dict[Path, pd.DataFrame] = {}

    def _load(self, pattern: str, reader) -> list[pd.DataFrame]:
        frames = []
        for path in sorted(self.parts.glob(pattern), key=_part_key):
            if path not in self._frames:
                self._frames[path] = reader(path)
            frames.append(self._frames[path])
        return frames

    def predictions(self) -> pd.DataFrame:
        frames = self._load("r*_f*.parquet", pd.read_parquet)
        if not frames:
            return pd.DataFrame()
        order = {s: i for i, s in enumerate(SELECTIONS)}
        df = pd.concat(frames, ignore_index=True)
        return df.sort_values(["repeat", "fold", "selection"],
                              key=lambda s: s.map(order) if s.name == "selection" else s,
                              kind="stable").reset_index(drop=True)

    def history(self) -> pd.DataFrame:
        frames = [h for h in self._load("*_history.csv", pd.read_csv) if len(h)]
        if not frames:
            return pd.DataFrame(columns=HISTORY_COLUMNS)
        return pd.concat(frames, ignore_index=True)[HISTORY_COLUMNS]

    def write(self, out: Path) -> pd.DataFrame:
        predictions = self.predictions()
        if len(predictions):
            write_parquet(out / "predictions.parquet", predictions)
            write_text(out / "history.csv", self.history().to_csv(index=False))
        return predictions


def collect(out: Path, is_main: bool) -> pd.DataFrame:
    """Concatenate the per-fold parts into ``predictions.parquet`` and ``history.csv``."""
    collector = Collector(out)
    return collector.write(out) if is_main else collector.predictions()


def _part_key(path: Path) -> tuple:
    nums = [int(n) for n in re.findall(r"\d+", path.stem)]
    return (nums + [-1, -1])[:2] + [path.stem]
