"""Cross-validation protocols and leakage control on the 442-clip composite layout."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from miex.errors import MiexError
from miex.train.protocols import (
    check_no_leakage,
    exclude_provenance,
    folds_frame,
    make_folds,
    provenance_subjects,
)


@pytest.fixture(scope="module")
def composite_samples(composite442) -> pd.DataFrame:
    from miex.datasets import Megc2019Composite

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = Megc2019Composite(composite442["casme2"], composite442["samm"], composite442["smic"])
    return ds.samples


def test_loso_one_fold_per_subject(composite_samples):
    samples = composite_samples
    assert len(samples) == 442 and samples["subject"].nunique() == 68
    folds = make_folds(samples, cv="loso", repeats=1, val_fraction=0.0)
    assert len(folds) == 68
    tested = []
    for fold in folds:
        test_subjects = fold.subjects(samples, "test")
        assert len(test_subjects) == 1
        assert not test_subjects & fold.subjects(samples, "train")
        # every row is either train or test
        assert sorted(np.concatenate([fold.train, fold.test]).tolist()) == list(range(len(samples)))
        tested.extend(test_subjects)
    assert sorted(tested) == sorted(samples["subject"].unique())  # each subject exactly once
    # subject ids are dataset-qualified: SMIC s1 and CASME II sub01 never collide
    assert any(s.startswith("smic/") for s in tested) and any(s.startswith("samm/") for s in tested)


def test_kfold_stratified_groups_deterministic(composite_samples):
    samples = composite_samples
    a = make_folds(samples, cv="kfold", k=3, seed=5, repeats=2, val_fraction=0.0)
    b = make_folds(samples, cv="kfold", k=3, seed=5, repeats=2, val_fraction=0.0)
    c = make_folds(samples, cv="kfold", k=3, seed=6, repeats=1, val_fraction=0.0)
    assert len(a) == 6
    for x, y in zip(a, b):
        assert np.array_equal(x.test, y.test) and np.array_equal(x.train, y.train)
    # repeats use different seeds: different partitions; seed 6 repeat 0 == seed 5 repeat 1
    assert not np.array_equal(a[0].test, a[3].test)
    assert np.array_equal(c[0].test, a[3].test)
    overall = samples["label"].value_counts(normalize=True).sort_index()
    for repeat in (0, 1):
        folds = [f for f in a if f.repeat == repeat]
        tested = np.concatenate([f.test for f in folds])
        assert sorted(tested.tolist()) == list(range(len(samples)))  # a partition of the rows
        for fold in folds:
            assert not fold.subjects(samples, "test") & fold.subjects(samples, "train")
            share = samples["label"].iloc[fold.test].value_counts(normalize=True).sort_index()
            assert np.abs(share - overall).max() < 0.08  # stratified by label
    with pytest.raises(MiexError, match="k <= 68"):
        make_folds(samples, cv="kfold", k=69, repeats=1)


def test_validation_split_from_train_subjects(composite_samples):
    samples = composite_samples
    folds = make_folds(samples, cv="kfold", k=3, seed=0, repeats=1, val_fraction=0.2)
    for fold in folds:
        val = fold.subjects(samples, "val")
        train = fold.subjects(samples, "train")
        test = fold.subjects(samples, "test")
        assert val and not val & train and not val & test
        n_train_subjects = len(val) + len(train)
        assert len(val) == int(np.ceil(0.2 * n_train_subjects))
        rows = np.concatenate([fold.train, fold.val, fold.test])
        assert sorted(rows.tolist()) == list(range(len(samples)))
    table = folds_frame(folds, samples)
    assert list(table.columns) == ["repeat", "fold", "subject", "role"]
    assert set(table["role"]) == {"train", "val", "test"}
    assert len(table) == 3 * 68
    none = make_folds(samples, cv="loso", repeats=1, val_fraction=0.0)
    assert all(len(f.val) == 0 for f in none)


def test_synthetic_exclusion_by_provenance(composite_samples, synthetic_with_provenance):
    from miex.datasets import MiexSynthetic

    synth = MiexSynthetic(synthetic_with_provenance)
    assert provenance_subjects(synth.samples) == {"casme2/sub01", "samm/006", "smic/s1", "casme2/sub02"}
    samples = composite_samples
    folds = make_folds(samples, cv="loso", repeats=1, val_fraction=0.0)
    fold = next(f for f in folds if f.subjects(samples, "test") == {"casme2/sub01"})
    kept, excluded = exclude_provenance(synth, fold.subjects(samples, "test"))
    expected = int((synth.samples["au_subject"] == "casme2/sub01").sum())
    assert excluded == expected > 0
    assert "casme2/sub01" not in set(kept["au_subject"])
    check_no_leakage(fold, samples, [kept])  # passes
    with pytest.raises(MiexError, match="leakage.*au_subject casme2/sub01"):
        check_no_leakage(fold, samples, [synth.samples])
    # a real table holding a test subject is leakage too
    with pytest.raises(MiexError, match="subject casme2/sub01"):
        check_no_leakage(fold, samples, [samples.iloc[fold.test]])


def test_numpy_scores_equal_sklearn():
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    from miex.train.engine import scores

    gen = np.random.default_rng(0)
    for _ in range(100):
        n = int(gen.integers(1, 40))
        y = gen.integers(0, 3, n)
        p = gen.integers(0, 3, n)
        present = np.unique(y)
        s = scores(y, p)
        assert s["uf1"] == pytest.approx(f1_score(y, p, labels=present, average="macro", zero_division=0))
        assert s["uar"] == pytest.approx(recall_score(y, p, labels=present, average="macro", zero_division=0))
        assert s["acc"] == pytest.approx(accuracy_score(y, p))
