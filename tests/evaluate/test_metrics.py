"""UF1/UAR/accuracy on pooled predictions, per part, per repeat; checked against sklearn."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

from miex.errors import MiexError
from miex.evaluate.metrics import (
    confusion,
    fold_averaged,
    fold_scores,
    pooled_scores,
    scores,
    summarize,
    uar,
    uf1,
    validate_predictions,
)

from .conftest import assign_folds, make_predictions


def _sk(t, p) -> dict[str, float]:
    return {"uf1": f1_score(t, p, average="macro"), "uar": balanced_accuracy_score(t, p), "acc": accuracy_score(t, p)}


@pytest.fixture
def preds(samples) -> pd.DataFrame:
    folds = assign_folds(samples, "kfold", n_repeats=3)
    return validate_predictions(make_predictions(samples, folds, accuracy=[0.3, 0.6, 0.9]))


def test_pooled_metrics_equal_sklearn(preds):
    pooled = pooled_scores(preds)
    assert set(pooled["selection"]) == {"last", "val_best", "test_best"}
    for (sel, rep), g in preds.groupby(["selection", "repeat"]):
        # the same samples in any order: pooled over the 3 folds of this repeat
        row = pooled[(pooled["selection"] == sel) & (pooled["repeat"] == rep) & (pooled["part"] == "all")].iloc[0]
        ref = _sk(g["label"], g["pred"])
        for m in ("uf1", "uar", "acc"):
            assert row[m] == pytest.approx(ref[m], abs=1e-12)
        assert row["n"] == len(g)


def test_pooling_differs_from_fold_average():
    # Fold 0 (sub01): 4 negatives, all right -> per-fold UF1 = 1 (only "negative" in its truth).
    # Fold 1 (sub02): 1 positive and 1 surprise, swapped -> per-fold UF1 = 0.
    # Fold-averaging gives (1 + 0) / 2 = 0.5: it weights a 2-clip fold like a 4-clip one and never
    # sees that positive and surprise are never recognised anywhere. Pooled: F1 = (1, 0, 0) -> 1/3.
    truth = [0, 0, 0, 0, 1, 2]
    pred = [0, 0, 0, 0, 2, 1]
    df = pd.DataFrame({
        "repeat": 0, "fold": [0] * 4 + [1] * 2, "selection": "last", "epoch": 3, "dataset": "casme2",
        "part": "casme2", "subject": ["casme2/sub01"] * 4 + ["casme2/sub02"] * 2,
        "clip": [f"EP0{i}_01f" for i in range(6)], "label": truth, "pred": pred,
    })
    pooled = pooled_scores(df)
    pooled_uf1 = float(pooled.loc[pooled["part"] == "all", "uf1"].iloc[0])
    assert pooled_uf1 == pytest.approx(f1_score(truth, pred, average="macro"))
    per_fold = fold_scores(df)["uf1"].to_numpy()
    assert per_fold[0] == pytest.approx(f1_score(truth[:4], pred[:4], labels=[0], average="macro"))
    assert per_fold[1] == pytest.approx(f1_score(truth[4:], pred[4:], average="macro"))
    averaged = fold_averaged(df, "last", "uf1")
    assert averaged == pytest.approx(per_fold.mean())
    assert averaged - pooled_uf1 > 0.1  # the two definitions really differ here


def test_parts_are_subsets_of_the_same_predictions(preds):
    pooled = pooled_scores(preds, ["last"])
    last = preds[preds["selection"] == "last"]
    assert set(pooled["part"]) == {"all", "smic", "casme2", "samm"}
    for (rep, part), g in last.groupby(["repeat", "part"]):
        row = pooled[(pooled["repeat"] == rep) & (pooled["part"] == part)].iloc[0]
        labels = sorted(g["label"].unique())
        assert row["uf1"] == pytest.approx(f1_score(g["label"], g["pred"], labels=labels, average="macro"))
        assert row["acc"] == pytest.approx(accuracy_score(g["label"], g["pred"]))
        assert row["n"] == len(g)
    per_rep = pooled[pooled["part"] != "all"].groupby("repeat")["n"].sum()
    assert (per_rep == pooled[pooled["part"] == "all"].set_index("repeat")["n"]).all()


def test_class_missing_from_a_part():
    # No surprise in the truth, but surprise is predicted twice.
    t = np.array([0, 0, 0, 1, 1, 0])
    p = np.array([0, 2, 0, 1, 2, 1])
    s = scores(t, p)
    assert s["classes"] == [0, 1]
    assert s["uf1"] == pytest.approx(f1_score(t, p, labels=[0, 1], average="macro"))
    # not the 3-class average, which would add an F1 of 0 for the absent class
    assert s["uf1"] != pytest.approx(f1_score(t, p, labels=[0, 1, 2], average="macro", zero_division=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns that y_pred has a class not in y_true
        assert s["uar"] == pytest.approx(balanced_accuracy_score(t, p))
    # the wrong "surprise" predictions still count as misses of their true class
    assert s["uar"] == pytest.approx(np.mean([2 / 4, 1 / 2]))
    # a single-class part: UF1 is the F1 of that class
    assert uf1([1, 1, 1], [1, 0, 1]) == pytest.approx(f1_score([1, 1, 1], [1, 0, 1], labels=[1], average="macro"))
    assert uar([1, 1, 1], [1, 0, 1]) == pytest.approx(2 / 3)


def test_mean_and_std_over_repeats(preds):
    summary = summarize(pooled_scores(preds))
    for sel in ("last", "val_best", "test_best"):
        g = preds[preds["selection"] == sel]
        per_rep = [f1_score(r["label"], r["pred"], average="macro") for _, r in g.groupby("repeat")]
        row = summary[(summary["selection"] == sel) & (summary["part"] == "all")].iloc[0]
        assert row["n_repeats"] == 3
        assert row["uf1_mean"] == pytest.approx(np.mean(per_rep))
        assert row["uf1_std"] == pytest.approx(np.std(per_rep, ddof=1))
    one = summarize(pooled_scores(preds[preds["repeat"] == 0]))
    assert one["uf1_std"].isna().all()  # undefined with one repeat, never a fake 0


def test_confusion_counts():
    t = [0, 0, 1, 1, 1, 0, 0]
    p = [0, 1, 1, 0, 1, 0, 0]
    cm = confusion(t, p, 3)
    assert cm.shape == (3, 3)
    expected = np.zeros((3, 3), dtype=int)
    np.add.at(expected, (np.array(t), np.array(p)), 1)
    assert (cm == expected).all()
    assert cm[2].sum() == 0  # absent class keeps its row
    assert (cm == confusion_matrix(t, p, labels=[0, 1, 2])).all()


def test_validate_predictions_errors(preds):
    with pytest.raises(MiexError, match="missing column.*pred"):
        validate_predictions(preds.drop(columns=["pred"]), "x/predictions.parquet")
    dup = pd.concat([preds, preds.iloc[:1]])
    with pytest.raises(MiexError, match="more than once"):
        validate_predictions(dup, "x/predictions.parquet")
    bad = preds.assign(selection="best")
    with pytest.raises(MiexError, match="unknown selection"):
        validate_predictions(bad, "x/predictions.parquet")
