"""Cross-validation protocols on the dataset-qualified subject, and leakage control.

- **LOSO** (``cv = "loso"``): ``sklearn.model_selection.LeaveOneGroupOut`` over the subjects
  (``casme2/sub01``, ``samm/006``, ``smic/s1``, ...); one fold per subject, in sorted subject
  order (68 folds on the MEGC2019 composite). The folds are the same in every repeat; repeats
  differ by their training seed.
- **Subject-wise k-fold** (``cv = "kfold"``): ``StratifiedGroupKFold(k, shuffle=True,
  random_state=seed_r)``: label-stratified folds with disjoint subjects; repeat ``r`` uses
  ``seed_r = seed + r`` for the split and for training.
- **Cross-dataset** (``cv = "cross_dataset"``): one fold per repeat, trained on every row of the
  ``[data] train_datasets`` sets and tested on every row of ``[data] dataset`` (the samples'
  ``eval_set`` column says which); repeats differ by their training seed.
- **Validation split**: ``GroupShuffleSplit`` on the training subjects of each fold
  (``val_fraction`` of them, at least one; 0 disables), so the val-selected epoch never looks
  at a test subject.
- **Leakage**: a synthetic sample whose z^MiE came from a real clip carries that clip's
  subject in ``au_subject`` (manifest provenance). For every fold, synthetic samples whose
  ``au_subject`` is one of the fold's test (or validation) subjects are removed from that
  fold's training data (:meth:`miex.datasets.MiexSynthetic.exclude_au_subjects`), and
  :func:`check_no_leakage` asserts that no test subject reaches training, directly or via
  provenance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from miex.errors import MiexError
from miex.seeding import rng

CV_KINDS = ("loso", "kfold", "cross_dataset")
ROLES = ("train", "val", "test")


@dataclass
class Fold:
    """One fold of one repeat: row indices (into the evaluation samples) per role."""

    repeat: int
    fold: int
    seed: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"r{self.repeat}_f{self.fold}"

    def rows(self, role: str) -> np.ndarray:
        return {"train": self.train, "val": self.val, "test": self.test}[role]

    def subjects(self, samples: pd.DataFrame, role: str) -> set[str]:
        return set(samples["subject"].iloc[self.rows(role)].astype(str))


def repeat_seed(seed: int, repeat: int) -> int:
    """The seed of repeat ``repeat`` (split and training)."""
    return int(seed) + int(repeat)


def subject_splits(samples: pd.DataFrame, cv: str, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) per fold, grouped by ``samples["subject"]``."""
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

    groups = samples["subject"].astype(str).to_numpy()
    labels = samples["label"].astype("int64").to_numpy()
    n_subjects = len(np.unique(groups))
    index = np.arange(len(samples))
    if cv == "loso":
        if n_subjects < 2:
            raise MiexError(f"LOSO needs at least 2 subjects, the dataset has {n_subjects}")
        return [(tr, te) for tr, te in LeaveOneGroupOut().split(index, labels, groups)]
    if cv == "kfold":
        if not 2 <= int(k) <= n_subjects:
            raise MiexError(f"subject-wise {k}-fold needs 2 <= k <= {n_subjects} (the number of subjects)")
        splitter = StratifiedGroupKFold(n_splits=int(k), shuffle=True, random_state=int(seed))
        return [(tr, te) for tr, te in splitter.split(index, labels, groups)]
    if cv == "cross_dataset":
        if "eval_set" not in samples.columns:
            raise MiexError("cross_dataset folds need the samples' eval_set column (train | test)")
        role = samples["eval_set"].astype(str).to_numpy()
        return [(index[role == "train"], index[role == "test"])]
    raise MiexError(f"unknown cross-validation {cv!r}; choose one of {', '.join(CV_KINDS)}")


def carve_validation(
    samples: pd.DataFrame, train: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split training rows into (train, val) by subject; ``fraction`` of the training subjects
    (rounded up, at least one, at most all but one) go to validation. 0 disables."""
    from sklearn.model_selection import GroupShuffleSplit

    empty = np.zeros(0, dtype=np.int64)
    if fraction <= 0 or len(train) == 0:
        return np.asarray(train, dtype=np.int64), empty
    groups = samples["subject"].astype(str).to_numpy()[train]
    n = len(np.unique(groups))
    if n < 2:
        return np.asarray(train, dtype=np.int64), empty
    n_val = min(n - 1, max(1, int(np.ceil(fraction * n))))
    splitter = GroupShuffleSplit(n_splits=1, test_size=n_val, random_state=int(seed))
    tr, va = next(splitter.split(train, groups=groups))
    return np.sort(np.asarray(train)[tr]), np.sort(np.asarray(train)[va])


def make_folds(
    samples: pd.DataFrame,
    *,
    cv: str = "loso",
    k: int = 5,
    seed: int = 0,
    repeats: int = 3,
    val_fraction: float = 0.0,
) -> list[Fold]:
    """All folds of all repeats, repeat-major."""
    if int(repeats) < 1:
        raise MiexError(f"repeats must be >= 1, got {repeats}")
    if not 0.0 <= float(val_fraction) < 1.0:
        raise MiexError(f"val_fraction must be in [0, 1), got {val_fraction}")
    folds: list[Fold] = []
    for r in range(int(repeats)):
        seed_r = repeat_seed(seed, r)
        for f, (train, test) in enumerate(subject_splits(samples, cv, k, seed_r)):
            val_seed = int(rng(seed_r, "validation", f).integers(2**31 - 1))
            tr, va = carve_validation(samples, np.asarray(train), val_fraction, val_seed)
            folds.append(Fold(r, f, seed_r, tr, va, np.sort(np.asarray(test, dtype=np.int64))))
    return folds


def folds_frame(folds: Sequence[Fold], samples: pd.DataFrame) -> pd.DataFrame:
    """``repeat, fold, subject, role``: one row per subject and fold (the run's folds.parquet)."""
    rows = []
    for fold in folds:
        for role in ROLES:
            for subject in sorted(fold.subjects(samples, role)):
                rows.append((fold.repeat, fold.fold, subject, role))
    df = pd.DataFrame(rows, columns=["repeat", "fold", "subject", "role"])
    return df.astype({"repeat": "int64", "fold": "int64", "subject": "str", "role": "str"})


# --------------------------------------------------------------------------- synthetic data
def provenance_subjects(synthetic: pd.DataFrame) -> set[str]:
    """The real subjects whose AUs fed a synthetic set (non-empty ``au_subject`` values)."""
    if "au_subject" not in synthetic.columns:
        return set()
    values = synthetic["au_subject"].fillna("").astype(str)
    return set(values[values != ""])


def exclude_provenance(synthetic, subjects: Iterable[str]) -> tuple[pd.DataFrame, int]:
    """Synthetic training rows without those whose AUs came from ``subjects``, and how many
    were removed. ``synthetic`` is a :class:`~miex.datasets.MiexSynthetic` (its
    ``exclude_au_subjects`` is used) or a samples DataFrame."""
    banned = set(subjects)
    if hasattr(synthetic, "exclude_au_subjects"):
        kept = synthetic.exclude_au_subjects(banned)
        total = len(synthetic.samples)
    else:
        total = len(synthetic)
        if "au_subject" in synthetic.columns:
            kept = synthetic[~synthetic["au_subject"].astype(str).isin(banned)].reset_index(drop=True)
        else:
            kept = synthetic.reset_index(drop=True)
    return kept, total - len(kept)


def check_no_leakage(
    fold: Fold,
    samples: pd.DataFrame,
    training: Iterable[pd.DataFrame] = (),
) -> None:
    """Raise MiexError when a test subject of ``fold`` appears in its training or validation
    rows, or in any ``training`` table (real extra data by ``subject``, synthetic data by
    ``subject`` or ``au_subject`` provenance)."""
    test = fold.subjects(samples, "test")
    problems = []
    for role in ("train", "val"):
        both = test & fold.subjects(samples, role)
        if both:
            problems.append(f"{role} rows of subject(s) {', '.join(sorted(both)[:5])}")
    if set(fold.test) & (set(fold.train) | set(fold.val)):
        problems.append("a test row is also a training/validation row")
    for table in training:
        for column in ("subject", "au_subject"):
            if column in table.columns:
                hit = test & set(table[column].astype(str))
                if hit:
                    problems.append(f"training data with {column} {', '.join(sorted(hit)[:5])}")
    if problems:
        raise MiexError(f"subject leakage in fold {fold.name}: " + "; ".join(problems))
