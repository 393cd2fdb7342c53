"""UF1, UAR and accuracy on pooled predictions, per part, per repeat and per epoch selection.

How the numbers are computed (design.md section 5):

* **Pooling.** For one (selection, repeat), the test predictions of *all* folds are pooled and
  the metric is computed once on the pooled arrays, as MEGC2019 does. This is *not* the mean
  of per-fold metrics: with small, unbalanced folds the two differ (see :func:`fold_scores`
  and the tests). UF1 = sklearn ``f1_score(average="macro")``, UAR =
  ``balanced_accuracy_score``, accuracy = ``accuracy_score``.
* **Parts.** ``smic``/``casme2``/``samm`` (or the dataset names of a non-composite run) are
  subsets of the same pooled predictions; ``"all"`` is the whole set.
* **Classes missing from a part.** UF1 and UAR average over the classes that occur in the
  *truth* of the evaluated subset (``labels=`` = the sorted distinct true labels), as the
  MEGC2019 evaluation script did (it skipped classes without ground-truth samples). A
  prediction of an absent class still counts as a miss (false negative) for the sample's true
  class; only the absent class's own F1/recall (undefined: no true samples) is left out of
  the average. UAR computed this way equals ``balanced_accuracy_score`` in every case (sklearn
  also drops classes with no true samples). The classes used are reported (``classes``).
* **Repeats.** Each repeat gives one pooled value; reports show mean ± sample standard
  deviation (``ddof=1``) over repeats; with one repeat the std is ``nan`` (shown as "–").
* **Selections.** ``last`` (the default: the last epoch), ``val_best`` (epoch chosen on a
  validation split of the training subjects) and ``test_best`` (epoch chosen on the test
  subjects: **optimistic**, never a fair estimate).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from miex.au.space import LABEL_NAMES
from miex.errors import MiexError

SELECTIONS: tuple[str, ...] = ("last", "val_best", "test_best")
SELECTION_LABELS: dict[str, str] = {
    "last": "last epoch",
    "val_best": "validation-selected epoch",
    "test_best": "optimistic (test-set epoch selection)",
}
OPTIMISTIC: frozenset[str] = frozenset({"test_best"})
METRICS: tuple[str, ...] = ("uf1", "uar", "acc")
METRIC_NAMES: dict[str, str] = {"uf1": "UF1", "uar": "UAR", "acc": "Accuracy"}
#: Part order in tables: the composite's parts first, other dataset names after, sorted.
COMPOSITE_PARTS: tuple[str, ...] = ("smic", "casme2", "samm")
PART_NAMES: dict[str, str] = {"all": "All", "smic": "SMIC-HS", "casme2": "CASME II", "samm": "SAMM"}
PREDICTION_COLUMNS: tuple[str, ...] = (
    "repeat", "fold", "selection", "epoch", "dataset", "part", "subject", "clip", "label", "pred",
)


# ----------------------------------------------------------------------------- single arrays
def present_classes(y_true: Iterable[int]) -> list[int]:
    """The sorted distinct classes in the truth: the ``labels=`` used for UF1 and UAR."""
    return sorted(int(c) for c in np.unique(np.asarray(list(y_true), dtype=np.int64)))


def _arrays(y_true: Sequence[int], y_pred: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise MiexError(f"truth and predictions differ in length ({len(t)} vs {len(p)})")
    if len(t) == 0:
        raise MiexError("no predictions to score")
    return t, p


def _per_class(t: np.ndarray, p: np.ndarray, labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(F1, recall) of each class in ``labels``; 0 where undefined (sklearn's zero_division=0).

    numpy, not sklearn: the engine scores every epoch, and sklearn's input validation costs
    ~10 ms a call. Equal to sklearn's per-class values (the tests compare them)."""
    f1s, recalls = [], []
    for c in labels:
        tp = float(np.sum((t == c) & (p == c)))
        fp = float(np.sum((t != c) & (p == c)))
        fn = float(np.sum((t == c) & (p != c)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        recalls.append(tp / (tp + fn) if tp + fn else 0.0)
    return np.asarray(f1s), np.asarray(recalls)


def uf1(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int] | None = None) -> float:
    """Unweighted F1: macro F1 over ``labels`` (default: the classes present in the truth)."""
    t, p = _arrays(y_true, y_pred)
    labels = present_classes(t) if labels is None else list(labels)
    return float(np.mean(_per_class(t, p, labels)[0]))


def uar(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int] | None = None) -> float:
    """Unweighted average recall over ``labels`` (default: classes in the truth).

    With the default this equals sklearn's ``balanced_accuracy_score``.
    """
    t, p = _arrays(y_true, y_pred)
    labels = present_classes(t) if labels is None else list(labels)
    return float(np.mean(_per_class(t, p, labels)[1]))


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    t, p = _arrays(y_true, y_pred)
    return float(np.mean(t == p))


def scores(y_true: Sequence[int], y_pred: Sequence[int], *, empty_ok: bool = False) -> dict[str, object]:
    """``{"n", "uf1", "uar", "acc", "classes"}`` for one set of predictions: the one place miex
    computes UF1/UAR (the engine's per-epoch logs, run summaries, reports and the CLI).

    ``empty_ok``: no predictions give NaN metrics (an epoch log without validation rows)
    instead of an error."""
    if empty_ok and len(np.asarray(y_true).ravel()) == 0:
        return {"n": 0, "uf1": float("nan"), "uar": float("nan"), "acc": float("nan"), "classes": []}
    t, p = _arrays(y_true, y_pred)
    labels = present_classes(t)
    f1, recall = _per_class(t, p, labels)
    return {"n": int(len(t)), "uf1": float(np.mean(f1)), "uar": float(np.mean(recall)), "acc": accuracy(t, p),
            "classes": labels}


def confusion(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int = 3) -> np.ndarray:
    """Counts ``(n_classes, n_classes)``: row = true class, column = predicted class."""
    from sklearn.metrics import confusion_matrix

    t, p = _arrays(y_true, y_pred)
    return confusion_matrix(t, p, labels=list(range(n_classes))).astype(np.int64)


def class_names(n_classes: int) -> list[str]:
    """negative/positive/surprise for 3 classes, ``class <i>`` otherwise."""
    if n_classes == len(LABEL_NAMES):
        return [LABEL_NAMES[i] for i in range(n_classes)]
    return [f"class {i}" for i in range(n_classes)]


# ----------------------------------------------------------------------------- prediction tables
def validate_predictions(df: pd.DataFrame, source: str | Path = "predictions") -> pd.DataFrame:
    """Check the run-folder contract columns and types; return a normalised copy.

    Raises :class:`MiexError` naming ``source`` for missing columns, unknown selections,
    negative labels or a test sample predicted twice in one (repeat, selection).
    """
    missing = [c for c in PREDICTION_COLUMNS if c not in df.columns]
    if missing:
        raise MiexError(f"{source}: missing column(s) {', '.join(missing)}")
    if len(df) == 0:
        raise MiexError(f"{source}: no predictions")
    out = df.copy()
    for col in ("repeat", "fold", "epoch", "label", "pred"):
        try:
            out[col] = out[col].astype("int64")
        except (TypeError, ValueError):
            raise MiexError(f"{source}: column {col} must hold integers") from None
    for col in ("selection", "dataset", "part", "subject", "clip"):
        out[col] = out[col].astype(str)
    bad = sorted(set(out["selection"]) - set(SELECTIONS))
    if bad:
        raise MiexError(f"{source}: unknown selection(s) {', '.join(bad)} (expected {', '.join(SELECTIONS)})")
    if (out["label"] < 0).any() or (out["pred"] < 0).any():
        raise MiexError(f"{source}: negative label or prediction")
    dup = out.duplicated(["repeat", "selection", "dataset", "subject", "clip"])
    if dup.any():
        row = out[dup].iloc[0]
        raise MiexError(
            f"{source}: sample {row['subject']}/{row['clip']} predicted more than once in repeat "
            f"{row['repeat']} ({row['selection']}): a sample may be tested in one fold only"
        )
    return out


def n_classes_of(df: pd.DataFrame) -> int:
    """Number of classes: the ``prob_*`` columns when present, else at least 3."""
    probs = [c for c in df.columns if str(c).startswith("prob_")]
    top = int(max(df["label"].max(), df["pred"].max())) + 1
    return max(len(probs), top, 3 if not probs else 0)


def parts_of(df: pd.DataFrame) -> list[str]:
    """The parts present, composite parts first (smic, casme2, samm), then others sorted."""
    present = set(df["part"].astype(str))
    return [p for p in COMPOSITE_PARTS if p in present] + sorted(present - set(COMPOSITE_PARTS))


def selections_of(df: pd.DataFrame) -> list[str]:
    present = set(df["selection"])
    return [s for s in SELECTIONS if s in present]


def pooled_scores(df: pd.DataFrame, selections: Sequence[str] | None = None, *, parts: bool = True) -> pd.DataFrame:
    """One row per (selection, repeat, part): ``n, uf1, uar, acc, classes``, pooled over folds.

    ``part == "all"`` is the whole set; per-part rows follow when the run has more than one
    part (a one-part run would repeat the "all" row).
    """
    sels = selections_of(df) if selections is None else list(selections)
    part_list = parts_of(df) if parts else []
    if len(part_list) < 2:
        part_list = []
    rows = []
    for sel in sels:
        sub = df[df["selection"] == sel]
        for rep in sorted(sub["repeat"].unique()):
            r = sub[sub["repeat"] == rep]
            for part in ["all", *part_list]:
                p = r if part == "all" else r[r["part"] == part]
                if len(p) == 0:
                    continue
                rows.append({"selection": sel, "repeat": int(rep), "part": part, **scores(p["label"], p["pred"])})
    return pd.DataFrame(rows, columns=["selection", "repeat", "part", "n", "uf1", "uar", "acc", "classes"])


def _std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def summarize(pooled: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sample std over repeats of :func:`pooled_scores` rows, per (selection, part).

    Columns: ``selection, part, n, n_repeats, uf1_mean, uf1_std, uar_mean, …, acc_std``
    (``n`` = samples per repeat, from the first repeat).
    """
    rows = []
    for (sel, part), g in pooled.groupby(["selection", "part"], sort=False):
        row: dict[str, object] = {"selection": sel, "part": part, "n": int(g["n"].iloc[0]), "n_repeats": int(len(g))}
        for m in METRICS:
            v = g[m].to_numpy(dtype=float)
            row[f"{m}_mean"] = float(np.mean(v))
            row[f"{m}_std"] = _std(v)
        rows.append(row)
    return pd.DataFrame(rows)


def fold_scores(df: pd.DataFrame, selections: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (selection, repeat, fold): ``n, n_subjects, subjects, uf1, uar, acc``.

    Per-fold UF1/UAR use the classes present in that fold's truth. For LOSO folds (one test
    subject, often 1-5 clips of 1-2 classes) they are noisy and not comparable to the pooled
    metric; they are listed for inspection and for paired tests on k-fold runs.
    """
    sels = selections_of(df) if selections is None else list(selections)
    rows = []
    for sel in sels:
        sub = df[df["selection"] == sel]
        for (rep, fold), g in sub.groupby(["repeat", "fold"], sort=True):
            subjects = sorted(g["subject"].unique())
            rows.append({
                "selection": sel, "repeat": int(rep), "fold": int(fold), "n": int(len(g)),
                "n_subjects": len(subjects), "subjects": " ".join(subjects),
                **{k: v for k, v in scores(g["label"], g["pred"]).items() if k != "classes"},
            })
    return pd.DataFrame(rows, columns=["selection", "repeat", "fold", "n", "n_subjects", "subjects", *METRICS])


def fold_averaged(df: pd.DataFrame, selection: str = "last", metric: str = "uf1") -> float:
    """Mean over (repeat, fold) of per-fold metric values: what pooling is *not* (for contrast)."""
    fs = fold_scores(df, [selection])
    return float(fs[metric].mean())


def format_mean_std(mean: float, std: float, digits: int = 3) -> str:
    """``0.712 ± 0.021``; the mean alone when the std is undefined (one repeat)."""
    if std is None or not np.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"

