"""MiE-X-compatible list files (``<dir> <label>`` per line) and leakage-free fold lists."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from miex.errors import MiexError
from miex.io import write_text
from miex.subjects import require_qualified


def read_fold_file(path: str | Path) -> pd.DataFrame:
    """A CSV mapping dataset-qualified subjects to folds: columns ``subject, fold``.

    ``fold`` names the fold in which the subject is a *test* subject.
    """
    path = Path(path)
    try:
        folds = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise MiexError(f"{path}: unreadable fold file ({exc})") from None
    folds.columns = [str(c).strip().lower() for c in folds.columns]
    missing = {"subject", "fold"} - set(folds.columns)
    if missing:
        raise MiexError(f"{path}: fold file needs the columns subject,fold (missing {', '.join(sorted(missing))})")
    folds = folds.dropna(subset=["subject", "fold"])
    folds["subject"] = folds["subject"].str.strip()
    folds["fold"] = folds["fold"].str.strip()
    for i, subject in enumerate(folds["subject"]):
        require_qualified(subject, where=f"{path} row {i + 2}")
    duplicated = folds[folds["subject"].duplicated()]["subject"].tolist()
    if duplicated:
        raise MiexError(f"{path}: subject(s) listed in more than one row: {', '.join(duplicated[:5])}")
    if folds.empty:
        raise MiexError(f"{path}: the fold file lists no subject")
    return folds[["subject", "fold"]]


def list_text(manifest: pd.DataFrame) -> str:
    return "".join(f"{d} {int(label)}\n" for d, label in zip(manifest["dir"], manifest["label"]))


def fold_training_set(manifest: pd.DataFrame, test_subjects: set[str]) -> pd.DataFrame:
    """Samples allowed in the training set of a fold: none whose AUs came from a test subject."""
    return manifest[~manifest["au_subject"].isin(test_subjects)]


def write_lists(out: Path, manifest: pd.DataFrame, folds: pd.DataFrame | None = None) -> list[Path]:
    """Write ``lists/all.txt``, one list per source and, with folds, ``lists/fold<f>_train.txt``."""
    lists = out / "lists"
    written = [lists / "all.txt"]
    write_text(written[0], list_text(manifest))
    for source, part in manifest.groupby("source", sort=True):
        path = lists / f"{source}.txt"
        write_text(path, list_text(part))
        written.append(path)
    if folds is not None:
        for fold, part in folds.groupby("fold", sort=True):
            path = lists / f"fold{fold}_train.txt"
            write_text(path, list_text(fold_training_set(manifest, set(part["subject"]))))
            written.append(path)
    return written
