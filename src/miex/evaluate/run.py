"""Reading a run folder (``miex train`` output) for evaluation and comparison.

The contract is in docs/INTERFACES.md ("Runs"): ``predictions.parquet`` and ``folds.parquet``
are required here; ``config.toml`` and ``history.csv`` are read when present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from miex.errors import MiexError
from miex.evaluate.metrics import SELECTIONS, validate_predictions

REQUIRED_FILES: tuple[str, ...] = ("predictions.parquet", "folds.parquet")
FOLD_COLUMNS: tuple[str, ...] = ("repeat", "fold", "subject", "role")


@dataclass
class Run:
    dir: Path
    predictions: pd.DataFrame
    folds: pd.DataFrame
    config: dict[str, Any] = field(default_factory=dict)
    history: pd.DataFrame | None = None
    #: (repeat, fold, selection) units listed in folds.parquet but without predictions
    missing_units: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.dir.name


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is one user-facing line
        raise MiexError(f"{path}: cannot read Parquet file ({type(exc).__name__}: {exc})") from None


def _read_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001
        raise MiexError(f"{path}: cannot parse TOML ({exc})") from None


def _read_history(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        return pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001
        raise MiexError(f"{path}: cannot read CSV ({type(exc).__name__}: {exc})") from None


def load_run(run_dir: str | Path, *, allow_incomplete: bool = False) -> Run:
    """Read and check a run folder.

    Raises :class:`MiexError` naming the file when the folder or a required file is missing,
    a column is missing, a prediction belongs to a subject that is not a test subject of its
    fold, or (unless ``allow_incomplete``) a test fold of ``folds.parquet`` has no predictions
    for a selection the run reports.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise MiexError(f"{root}: run folder not found")
    for name in REQUIRED_FILES:
        if not (root / name).is_file():
            raise MiexError(f"{root / name}: missing; not a complete miex run folder (needs {', '.join(REQUIRED_FILES)})")
    preds = validate_predictions(_read_parquet(root / "predictions.parquet"), root / "predictions.parquet")
    folds = _read_parquet(root / "folds.parquet")
    missing = [c for c in FOLD_COLUMNS if c not in folds.columns]
    if missing:
        raise MiexError(f"{root / 'folds.parquet'}: missing column(s) {', '.join(missing)}")
    folds = folds.copy()
    folds["repeat"] = folds["repeat"].astype("int64")
    folds["fold"] = folds["fold"].astype("int64")
    folds["subject"] = folds["subject"].astype(str)
    folds["role"] = folds["role"].astype(str)
    run = Run(root, preds, folds, _read_config(root / "config.toml"), _read_history(root / "history.csv"))
    _check_consistency(run, allow_incomplete)
    return run


def _check_consistency(run: Run, allow_incomplete: bool) -> None:
    test = run.folds[run.folds["role"] == "test"]
    source = run.dir / "predictions.parquet"
    if len(test) == 0:
        raise MiexError(f"{run.dir / 'folds.parquet'}: no test subjects (role == 'test')")
    test_sets = test.groupby(["repeat", "fold"])["subject"].agg(frozenset).to_dict()
    for (rep, fold), g in run.predictions.groupby(["repeat", "fold"]):
        allowed = test_sets.get((int(rep), int(fold)))
        if allowed is None:
            raise MiexError(f"{source}: predictions for repeat {rep} fold {fold}, which folds.parquet does not list")
        extra = sorted(set(g["subject"]) - allowed)
        if extra:
            raise MiexError(
                f"{source}: repeat {rep} fold {fold} has predictions for {extra[0]}, which is not a test subject "
                "of that fold in folds.parquet"
            )
    present = set(zip(run.predictions["repeat"], run.predictions["fold"], run.predictions["selection"]))
    sels = [s for s in SELECTIONS if s in set(run.predictions["selection"])]
    run.missing_units = sorted(
        (int(r), int(f), s) for (r, f) in test_sets for s in sels if (r, f, s) not in present
    )
    if run.missing_units and not allow_incomplete:
        r, f, s = run.missing_units[0]
        raise MiexError(
            f"{source}: incomplete run: no '{s}' predictions for repeat {r} fold {f} listed in folds.parquet "
            f"({len(run.missing_units)} fold/selection unit(s) missing; --allow-incomplete evaluates what is there)"
        )


def protocol_of(run: Run) -> dict[str, Any]:
    """What the folds are: ``kind`` LOSO | k-fold | single split, counts of folds and subjects."""
    test = run.folds[run.folds["role"] == "test"]
    per_fold = test.groupby(["repeat", "fold"])["subject"].nunique()
    n_folds = int(test.groupby("repeat")["fold"].nunique().max())
    n_repeats = int(run.folds["repeat"].nunique())
    if n_folds == 1:
        kind = "single split"
    elif int(per_fold.max()) == 1:
        kind = "LOSO"
    else:
        kind = "k-fold"
    label = {
        "LOSO": f"leave-one-subject-out (LOSO), {n_folds} folds",
        "k-fold": f"subject-wise {n_folds}-fold",
        "single split": "single train/test split (e.g. direct deployment)",
    }[kind]
    return {
        "kind": kind,
        "label": label,
        "n_folds": n_folds,
        "n_repeats": n_repeats,
        "n_test_subjects": int(test["subject"].nunique()),
        "subjects_per_fold": [int(per_fold.min()), int(per_fold.max())],
        "has_val": bool((run.folds["role"] == "val").any()),
    }


def config_summary(config: dict[str, Any], keys: tuple[str, ...] = (
    "mode", "protocol", "model", "model.name", "dataset", "datasets", "folds", "k", "repeats", "epochs", "seed",
)) -> dict[str, Any]:
    """A few recognisable scalar settings (found at any depth, first occurrence wins)."""
    out: dict[str, Any] = {}

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            elif (k in keys or f"{prefix}{k}" in keys) and k not in {key.rsplit('.', 1)[-1] for key in out}:
                if isinstance(v, (str, int, float, bool)) or (isinstance(v, list) and all(isinstance(x, (str, int)) for x in v)):
                    out[f"{prefix}{k}"] = v

    walk(config, "")
    return out


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that orders ``sub2`` before ``sub10``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))
