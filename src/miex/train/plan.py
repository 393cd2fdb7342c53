"""The plan of a run: its data (checked, preprocessed), its folds and each fold's training data.

:func:`build_plan` loads the configured datasets (annotations only), and

- refuses a dataset part that is missing or incomplete (a clip the annotations or the official
  list name that is not on disk), unless ``[data] allow_partial = true``; then the plan states
  the samples per part, so that nobody mistakes a partial run for a full one;
- reports every other problem of the copies in one line per kind, and warns once per clip whose
  annotated onset or apex frame is not on disk (a nearest frame stands in for it);
- loads ``[model] init_weights`` into the model (a bad file stops the run here);
- chooses the face crop of every row (``[data] crop``, :mod:`miex.preprocess`) and, unless this
  is a dry run, makes sure the crops are in the crop cache; a clip whose onset frame has no face
  is left out with one line naming the frame;
- makes the folds (:mod:`miex.train.protocols`) and asserts that no test subject reaches a
  fold's training data (directly or through the AU provenance of a MiE-X set).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from miex.errors import MiexError
from miex.preprocess import CropPlan, FrameReader, missing_frames
from miex.preprocess.crop import MIN_CROP_SIZE
from miex.train.experiment import ExperimentConfig
from miex.train.models import check_init_weights
from miex.train.modes import get_mode
from miex.train.protocols import Fold, check_no_leakage, exclude_provenance, make_folds, provenance_subjects

#: Problems that mean a configured dataset is not all there.
INCOMPLETE_KINDS = frozenset({"missing_clip", "empty_clip", "incomplete_clip"})

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class Plan:
    """Everything a run needs before training: data, folds and per-fold training sets."""

    config: ExperimentConfig
    samples: pd.DataFrame  # the evaluation dataset's samples (+ "part")
    folds: list[Fold]
    num_classes: int
    synthetic: Any = None  # MiexSynthetic or None
    extra: pd.DataFrame | None = None  # extra real training rows
    overlap: set[str] = field(default_factory=set)  # evaluation subjects in the synthetic provenance
    reader: FrameReader = field(default_factory=FrameReader)
    notes: dict[str, Any] = field(default_factory=dict)  # what the report states about the data

    @property
    def mode(self) -> str:
        return self.config.mode

    @property
    def per_fold_synthetic(self) -> bool:
        return bool(self.overlap)

    def banned(self, fold: Fold) -> set[str]:
        """Subjects whose AUs may not feed this fold's synthetic training data."""
        return fold.subjects(self.samples, "test") | fold.subjects(self.samples, "val")

    def synthetic_rows(self, fold: Fold | None) -> tuple[pd.DataFrame, int]:
        """The MiE-X training rows for ``fold`` (all rows for a shared model) and the number excluded."""
        if self.synthetic is None:
            return pd.DataFrame(), 0
        if fold is None or not self.per_fold_synthetic:
            return self.synthetic.samples, 0
        return exclude_provenance(self.synthetic, self.banned(fold))

    def real_train_rows(self, fold: Fold) -> pd.DataFrame:
        rows = self.samples.iloc[fold.train]
        if self.extra is not None and len(self.extra):
            rows = pd.concat([rows, self.extra], ignore_index=True)
        return rows.reset_index(drop=True)

    def check(self, fold: Fold) -> tuple[pd.DataFrame, int]:
        """Assert no leakage for ``fold``; returns its synthetic rows and exclusion count."""
        synth, excluded = self.synthetic_rows(fold)
        tables = [self.real_train_rows(fold)] if get_mode(self.mode).uses_real_training else []
        if len(synth):
            tables.append(synth)
        check_no_leakage(fold, self.samples, tables)
        return synth, excluded

    def fold_table(self) -> pd.DataFrame:
        mode = get_mode(self.mode)
        rows = []
        for fold in self.folds:
            synth, excluded = self.check(fold)
            rows.append({
                "repeat": fold.repeat,
                "fold": fold.fold,
                "train_samples": len(fold.train),
                "train_subjects": len(fold.subjects(self.samples, "train")),
                "val_samples": len(fold.val),
                "val_subjects": len(fold.subjects(self.samples, "val")),
                "test_samples": len(fold.test),
                "test_subjects": len(fold.subjects(self.samples, "test")),
                "extra_samples": len(self.extra) if self.extra is not None and mode.uses_real_training else 0,
                "synthetic_samples": len(synth) if mode.uses_synthetic else 0,
                "synthetic_excluded": excluded if mode.uses_synthetic else 0,
                "pretrain": ("per_fold" if self.per_fold_synthetic else "shared") if mode.uses_synthetic else "",
            })
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------- datasets
def _root_arg(name: str, roots: dict[str, str]) -> Any:
    if name == "megc2019":
        return {k: v for k, v in roots.items() if k in ("casme2", "samm", "smic")} or None
    return roots.get(name)


def load_samples(name: str, roots: dict[str, str], options: dict, label_scheme: str, *,
                 allow_partial: bool = False, log: Log = _quiet) -> tuple[pd.DataFrame, int]:
    """(samples with a ``part`` column, number of classes) of a configured real dataset.

    A part with missing clips is an error unless ``allow_partial``; the dataset's other
    problems are logged, one line per kind."""
    from miex.datasets import load_dataset

    kw = dict(options)
    if name != "megc2019" or label_scheme != "3class":
        kw.setdefault("label_scheme", label_scheme)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the problems are reported below, once
        ds = load_dataset(name, _root_arg(name, roots), **kw)
    samples = ds.samples.reset_index(drop=True).copy()
    if "part" not in samples.columns:
        samples["part"] = samples["dataset"]
    samples.attrs["missing_clips"] = report_problems(name, ds.problems, samples, allow_partial=allow_partial, log=log)
    if len(samples) == 0:
        raise MiexError(f"dataset {name} has no samples under {ds.root} (check [data] roots or `miex datasets check`)")
    return samples, len(ds.classes)


def report_problems(name: str, problems: list, samples: pd.DataFrame, *, allow_partial: bool, log: Log) -> int:
    """Refuse an incomplete dataset (unless ``allow_partial``) and log the other problems;
    returns the number of configured clips that are missing."""
    missing = [p for p in problems if p.kind in INCOMPLETE_KINDS]
    if missing:
        per_part = Counter(p.dataset for p in missing)
        detail = ", ".join(f"{part} {n}" for part, n in sorted(per_part.items()))
        first = missing[0]
        found = ", ".join(f"{part} {n}" for part, n in samples["part"].value_counts().sort_index().items())
        if not allow_partial:
            raise MiexError(
                f"dataset {name} is incomplete: {len(missing)} configured clip(s) not found ({detail}; first: "
                f"{first.dataset}/{first.clip}: {first.message}); fix [data] roots (see `miex datasets check`) "
                "or set [data] allow_partial = true to run on what is there")
        log(f"{name}: PARTIAL data ([data] allow_partial): {len(missing)} configured clip(s) missing ({detail}); "
            f"samples per part: {found or 'none'}")
    others = Counter(p.kind for p in problems if p.kind not in INCOMPLETE_KINDS)
    if others:
        log(f"{name}: data notes: " + ", ".join(f"{n} {kind}" for kind, n in sorted(others.items()))
            + " (`miex datasets check` lists them)")
    return len(missing)


def warn_missing_frames(samples: pd.DataFrame, log: Log) -> int:
    """One line per clip whose annotated onset/apex frame is not on disk; returns the count."""
    count = 0
    for row in samples.to_dict("records"):
        absent = missing_frames(row)
        if absent:
            count += 1
            log(f"warning: {row['subject']}/{row['clip']}: annotated {' and '.join(absent)} not on disk; "
                "using the nearest frame")
    return count


# --------------------------------------------------------------------------- preprocessing
def crop_plan(config: ExperimentConfig) -> CropPlan:
    """The run's face-crop settings: ``[data] crop`` and ``crop_size`` (0: the model's load
    size, at least :data:`~miex.preprocess.crop.MIN_CROP_SIZE`)."""
    from miex.train.models import input_spec

    data = config.data
    size = int(data["crop_size"])
    if size <= 0:
        spec = input_spec(config)
        load = int(round(spec.size * data["augment"]["resize_ratio"])) if spec.kind in ("pair", "apex", "video") \
            else int(spec.size)
        size = max(MIN_CROP_SIZE, load)
    cache = str(Path(data["crop_cache"]).expanduser()) if data["crop_cache"] else None
    return CropPlan(choice=data["crop"], size=size, cache_dir=cache)


def _drop_uncroppable(table: pd.DataFrame, reader: FrameReader, progress: bool, log: Log) -> tuple[pd.DataFrame, int]:
    failures = reader.prepare(table.to_dict("records"), progress=progress, log=log)
    if not failures:
        return table, 0
    keep = sorted(set(range(len(table))) - {f.row for f in failures})
    return table.iloc[keep].reset_index(drop=True), len(failures)


# --------------------------------------------------------------------------- the plan
def build_plan(config: ExperimentConfig, *, preprocess: bool = True, log: Log = _quiet,
               progress: bool = False) -> Plan:
    """Load the datasets of ``config`` (annotations only), prepare their crops (unless
    ``preprocess`` is false: a dry run) and make the folds."""
    data, proto = config.data, config.protocol
    mode = get_mode(config.mode)
    roots = {k: str(Path(v).expanduser()) for k, v in data["roots"].items()}
    partial = bool(data["allow_partial"])
    samples, num_classes = load_samples(data["dataset"], roots, data["options"], data["label_scheme"],
                                        allow_partial=partial, log=log)
    check_init_weights(config, num_classes)  # a bad [model] init_weights file stops here, before any crop
    missing_clips = samples.attrs.get("missing_clips", 0)
    cross = None
    if proto["cv"] == "cross_dataset":
        samples, cross, missing = _cross_dataset_samples(samples, num_classes, roots, partial, log, config)
        missing_clips += missing
    extra = None
    if data["extra_train"] and mode.uses_real_training:
        parts = []
        for name in data["extra_train"]:
            rows, n = load_samples(name, roots, {}, data["label_scheme"], allow_partial=partial, log=log)
            if n != num_classes:
                raise MiexError(f"[data] extra_train {name}: {n} classes, the evaluation dataset has {num_classes}")
            parts.append(rows)
        extra = pd.concat(parts, ignore_index=True)
    synthetic, overlap = None, set()
    if mode.uses_synthetic:
        synthetic = load_synthetic(Path(data["synthetic"]).expanduser(), log)
        overlap = provenance_subjects(synthetic.samples) & set(samples["subject"].astype(str))

    reader = FrameReader(crop_plan(config))
    notes: dict[str, Any] = {"crop": reader.plan.describe(samples), "partial": partial,
                             "partial_missing": int(missing_clips),
                             "missing_frames": warn_missing_frames(samples, log), "crop_failures": 0}
    if cross is not None:
        notes["cross_dataset"] = cross
    log(notes["crop"])
    if preprocess:
        samples, failed = _drop_uncroppable(samples, reader, progress, log)
        if extra is not None:
            extra, failed_extra = _drop_uncroppable(extra, reader, progress, log)
            failed += failed_extra
        notes["crop_failures"] = failed
        if failed:
            log(f"left out {failed} clip(s) whose onset frame has no usable face (listed above)")
    tested = samples[samples["eval_set"] == "test"] if "eval_set" in samples.columns else samples
    notes["parts"] = {str(k): int(v) for k, v in tested["part"].value_counts().sort_index().items()}
    folds = make_folds(samples, cv=proto["cv"], k=proto["k"], seed=proto["seed"], repeats=proto["repeats"],
                       val_fraction=proto["val_fraction"])
    return Plan(config, samples, folds, num_classes, synthetic, extra, overlap, reader, notes)


def _cross_dataset_samples(test: pd.DataFrame, num_classes: int, roots: dict[str, str], partial: bool, log: Log,
                           config: ExperimentConfig) -> tuple[pd.DataFrame, dict[str, dict[str, int]], int]:
    """The test set's rows (``eval_set`` "test") and every ``[data] train_datasets`` set's rows
    (``eval_set`` "train"), labelled in the same scheme; subjects stay dataset-qualified."""
    data = config.data
    test = test.assign(eval_set="test")
    parts, counts, missing = [test], {}, 0
    for name in data["train_datasets"]:
        rows, n = load_samples(name, roots, {}, data["label_scheme"], allow_partial=partial, log=log)
        if n != num_classes:
            raise MiexError(f"[data] train_datasets {name}: {n} classes in scheme {data['label_scheme']!r}, the test "
                            f"set {data['dataset']} has {num_classes}")
        missing += rows.attrs.get("missing_clips", 0)
        counts[name] = len(rows)
        parts.append(rows.assign(eval_set="train"))
    cross = {"train": counts, "test": {data["dataset"]: len(test)}}
    log("cross-dataset: train on " + ", ".join(f"{k} ({v} samples)" for k, v in counts.items())
        + f", test on {data['dataset']} ({len(test)} samples)")
    return pd.concat(parts, ignore_index=True), cross, missing


def load_synthetic(path: Path, log: Log):
    """The run's MiE-X set; its problems (incomplete sample folders, ...) are logged."""
    from miex.datasets import MiexSynthetic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reported below
        synthetic = MiexSynthetic(path)
    problems = Counter(p.kind for p in synthetic.problems)
    if problems:
        log(f"{path}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(problems.items()))
            + " sample(s) skipped (`miex datasets check` / MiexSynthetic(...).validate() lists them)")
    if len(synthetic.samples) == 0:
        raise MiexError(f"{path}: the synthetic set has no samples")
    return synthetic
