"""The run folder: create it, refuse another config's run, and the run's ``train.log``."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

from miex.errors import MiexError
from miex.io import write_text
from miex.train.experiment import ExperimentConfig, read_toml, validate

#: Files a run writes at its top level (``--overwrite`` removes them).
RUN_FILES = ("predictions.parquet", "history.csv", "folds.parquet", "fold_counts.csv", "train.log", "data.json")
RUN_FOLDERS = ("checkpoints", "parts", "tensorboard")


class RunLog:
    """Appends lines to ``RUN/train.log`` (rank 0) and echoes them to stderr unless quiet.

    Lines logged before the run folder exists (the data checks of the plan) are kept in memory
    and written once :meth:`open` is called, so a run refused for bad input leaves no folder."""

    def __init__(self, path: Path, *, quiet: bool = False, enabled: bool = True, deferred: bool = False) -> None:
        self.path = path
        self.quiet = quiet
        self.enabled = enabled
        self._pending: list[str] | None = [] if deferred else None

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        if self._pending is not None:
            self._pending.append(line)
        else:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        if not self.quiet:
            from tqdm import tqdm

            tqdm.write(f"miex train: {message}", file=sys.stderr)  # above an epoch bar, not through it

    def open(self) -> None:
        """Write the lines kept so far; later lines go straight to the file."""
        pending, self._pending = self._pending, None
        if pending and self.enabled:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write("".join(line + "\n" for line in pending))


def check_run_dir(out: Path, config: ExperimentConfig, *, overwrite: bool) -> None:
    """Refuse ``out`` when it is not a folder or holds a run with a different config (unless
    ``overwrite``); creates nothing."""
    if out.exists() and not out.is_dir():
        raise MiexError(f"{out} exists and is not a folder")
    saved = out / "config.toml"
    if saved.is_file() and not overwrite:
        old = validate(read_toml(saved), str(saved))
        if old.content() != config.content():
            diff = _first_difference(old.content(), config.content())
            raise MiexError(f"{out} holds a run with a different config ({diff}); use another --out or --overwrite")


def prepare_run_dir(out: Path, config: ExperimentConfig, *, overwrite: bool, is_main: bool) -> None:
    """Create ``out`` (after :func:`check_run_dir`); ``overwrite`` clears an earlier run first."""
    check_run_dir(out, config, overwrite=overwrite)
    if is_main:
        if overwrite and out.exists():
            for name in RUN_FOLDERS:
                shutil.rmtree(out / name, ignore_errors=True)
            for name in RUN_FILES:
                (out / name).unlink(missing_ok=True)
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
        (out / "parts").mkdir(parents=True, exist_ok=True)
        write_text(out / "config.toml", config.to_toml())


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    return f"{path}: {a!r} -> {b!r}"


def default_feature_cache() -> str:
    """``$MIEX_CACHE_DIR/features`` (see :func:`miex.cache.user_cache_dir`)."""
    from miex.cache import user_cache_dir

    return str(user_cache_dir("features"))
