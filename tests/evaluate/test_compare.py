"""compare_runs: paired tests over shared (repeat, fold) units; LOSO pooled per repeat; errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import f1_score

from miex.errors import MiexError
from miex.evaluate.compare import compare_runs

from .conftest import assign_folds, make_predictions, make_samples, write_run


@pytest.fixture(scope="module")
def kfold_pair(tmp_path_factory) -> tuple[Path, Path]:
    """Same 5-fold x 3-repeat folds; B predicts far better than A (15 paired units)."""
    root = tmp_path_factory.mktemp("cmp")
    samples = make_samples(n_subjects_per_part=5, seed=3)
    folds = assign_folds(samples, "kfold", n_repeats=3, k=5)
    a = write_run(root / "a", make_predictions(samples, folds, accuracy=0.35, seed=10, selections=("last",)), folds)
    b = write_run(root / "b", make_predictions(samples, folds, accuracy=0.95, seed=11, selections=("last",)), folds)
    return a, b


def _per_fold_uf1(run: Path) -> dict[tuple[int, int], float]:
    import pandas as pd

    p = pd.read_parquet(run / "predictions.parquet")
    p = p[p["selection"] == "last"]
    return {
        (r, f): f1_score(g["label"], g["pred"], labels=sorted(g["label"].unique()), average="macro")
        for (r, f), g in p.groupby(["repeat", "fold"])
    }


def test_clearly_better_run_is_significant(kfold_pair):
    a, b = kfold_pair
    res = compare_runs(a, b, metric="uf1", test="wilcoxon")
    assert res.unit == "fold" and res.n_pairs == 15
    fa, fb = _per_fold_uf1(a), _per_fold_uf1(b)
    keys = sorted(fa)
    xa, xb = np.array([fa[k] for k in keys]), np.array([fb[k] for k in keys])
    assert res.mean_diff == pytest.approx(float(np.mean(xb - xa)))
    assert res.mean_diff > 0.2
    assert res.p_value == pytest.approx(stats.wilcoxon(xb, xa).pvalue)
    assert res.p_value < 0.05 and res.significant
    assert "significant at α = 0.05" in res.interpretation and "not significant" not in res.interpretation
    t = compare_runs(a, b, metric="uar", test="ttest")
    assert t.p_value < 0.05
    # reversed order: same p, negative difference
    r = compare_runs(b, a, metric="uf1")
    assert r.mean_diff == pytest.approx(-res.mean_diff) and r.p_value == pytest.approx(res.p_value)


def test_identical_runs_are_not_significant(kfold_pair, tmp_path):
    a, _ = kfold_pair
    copy = tmp_path / "a_copy"
    shutil.copytree(a, copy)
    for test in ("wilcoxon", "ttest"):
        res = compare_runs(a, copy, test=test)
        assert res.p_value == 1.0 and not res.significant
        assert res.n_tied == res.n_pairs == 15 and res.mean_diff == 0.0
        assert "identical" in res.interpretation


def test_runs_with_different_folds_are_refused(kfold_pair, tmp_path):
    a, _ = kfold_pair
    samples = make_samples(n_subjects_per_part=5, seed=3)
    other = assign_folds(samples, "kfold", n_repeats=3, k=5, fold_seed=99)
    c = write_run(tmp_path / "c", make_predictions(samples, other, selections=("last",)), other)
    with pytest.raises(MiexError, match="do not share folds"):
        compare_runs(a, c)
    loso = assign_folds(samples, "loso", n_repeats=1)
    d = write_run(tmp_path / "d", make_predictions(samples, loso, selections=("last",)), loso)
    with pytest.raises(MiexError, match="do not share folds|share no"):
        compare_runs(a, d, metric="acc")
    with pytest.raises(MiexError, match="no 'val_best' predictions"):
        compare_runs(a, a, selection="val_best")


def test_loso_compares_pooled_metric_per_repeat(tmp_path):
    samples = make_samples(seed=4)
    folds = assign_folds(samples, "loso", n_repeats=3)
    a = write_run(tmp_path / "a", make_predictions(samples, folds, accuracy=0.4, seed=1, selections=("last",)), folds)
    b = write_run(tmp_path / "b", make_predictions(samples, folds, accuracy=0.9, seed=2, selections=("last",)), folds)
    res = compare_runs(a, b, metric="uf1")
    assert res.unit == "repeat" and res.n_pairs == 3

    import pandas as pd

    def pooled(run: Path) -> list[float]:
        p = pd.read_parquet(run / "predictions.parquet")
        return [f1_score(g["label"], g["pred"], average="macro") for _, g in p.groupby("repeat")]

    assert res.pooled["a"] == pytest.approx(pooled(a)) and res.pooled["b"] == pytest.approx(pooled(b))
    assert res.mean_diff == pytest.approx(np.mean(pooled(b)) - np.mean(pooled(a)))
    assert res.p_value == pytest.approx(0.25)  # 3 pairs, all better: the smallest exact two-sided p
    assert "smallest two-sided Wilcoxon p" in res.interpretation
    # per-subject accuracy is well defined for LOSO folds: one pair per subject and repeat
    acc = compare_runs(a, b, metric="acc")
    assert acc.unit == "fold" and acc.n_pairs == 3 * samples["subject"].nunique()
    assert acc.p_value < 0.05
    # one repeat: too few pooled pairs
    one = assign_folds(samples, "loso", n_repeats=1)
    a1 = write_run(tmp_path / "a1", make_predictions(samples, one, selections=("last",)), one)
    with pytest.raises(MiexError, match="too few paired units.*--metric acc"):
        compare_runs(a1, a1)
