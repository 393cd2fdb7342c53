"""``miex train``: run an experiment config into a run folder (see docs/INTERFACES.md, "Runs").

The run folder ``RUN/`` receives

- ``config.toml`` (the resolved config), ``folds.parquet`` (``repeat, fold, subject, role``),
  ``fold_counts.csv`` (the dry-run table: sizes and synthetic exclusions per fold);
- ``predictions.parquet`` (one row per repeat, fold, selection and test sample) and
  ``history.csv`` (per-epoch ``repeat, fold, epoch, split, loss, uf1, uar, acc, lr, stage``),
  rewritten after every finished fold;
- ``checkpoints/`` (``r{repeat}_f{fold}_last.pt`` / ``_best.pt``, ``r{repeat}_pretrain_last.pt``
  or ``r{repeat}_f{fold}_pretrain_last.pt``, ``r{repeat}_all_last.pt``), ``parts/`` (per-fold
  results), ``train.log`` (what happened, including the synthetic samples excluded per fold).

Modes: ``real`` trains each fold on its training subjects (+ ``extra_train`` datasets);
``direct`` trains on the MiE-X set only and tests on the real folds; ``pretrain_finetune``
pre-trains on MiE-X, then fine-tunes on each fold's real training data. A MiE-X set whose
z^MiE came from subjects of the evaluation dataset (``au_subject`` provenance) is filtered per
fold (its test and validation subjects removed), so its training happens per fold; otherwise
one MiE-X model per repeat serves all folds.

Selections written to ``predictions.parquet``: ``last`` (the last epoch; the default report),
``val_best`` (best validation UF1, ties: lower validation loss, then the earlier epoch; only with
a validation split) and ``test_best`` (best test UF1: optimistic, for comparison with papers that
select on the test set).

Re-running the same command resumes: finished folds are skipped, an unfinished job continues
after its last checkpointed epoch and gives the same predictions as an uninterrupted run.

``[train] parallel_folds = N`` trains N independent folds at a time in worker processes (one
torch thread each unless ``threads`` says otherwise): on a small CPU this beats one fold with N
threads for small models. Results equal a sequential run with the same thread count.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from miex.errors import MiexError
from miex.io import write_parquet, write_text
from miex.seeding import rng
from miex.train.experiment import ExperimentConfig, expand_sweep, read_toml, validate
from miex.train.protocols import (
    Fold,
    check_no_leakage,
    exclude_provenance,
    folds_frame,
    make_folds,
    provenance_subjects,
)

SELECTIONS = ("last", "val_best", "test_best")
HISTORY_COLUMNS = ["repeat", "fold", "epoch", "split", "loss", "uf1", "uar", "acc", "lr", "stage"]


# --------------------------------------------------------------------------- the plan
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
        tables = [self.real_train_rows(fold)] if self.mode != "direct" else []
        if len(synth):
            tables.append(synth)
        check_no_leakage(fold, self.samples, tables)
        return synth, excluded

    @property
    def mode(self) -> str:
        return self.config.mode

    def fold_table(self) -> pd.DataFrame:
        rows = []
        for fold in self.folds:
            synth, excluded = self.check(fold)
            uses_synth = self.mode in ("direct", "pretrain_finetune")
            rows.append({
                "repeat": fold.repeat,
                "fold": fold.fold,
                "train_samples": len(fold.train),
                "train_subjects": len(fold.subjects(self.samples, "train")),
                "val_samples": len(fold.val),
                "val_subjects": len(fold.subjects(self.samples, "val")),
                "test_samples": len(fold.test),
                "test_subjects": len(fold.subjects(self.samples, "test")),
                "extra_samples": 0 if self.extra is None or self.mode == "direct" else len(self.extra),
                "synthetic_samples": len(synth) if uses_synth else 0,
                "synthetic_excluded": excluded if uses_synth else 0,
                "pretrain": ("per_fold" if self.per_fold_synthetic else "shared") if uses_synth else "",
            })
        return pd.DataFrame(rows)


def _root_arg(name: str, roots: dict[str, str]) -> Any:
    if name == "megc2019":
        return {k: v for k, v in roots.items() if k in ("casme2", "samm", "smic")} or None
    return roots.get(name)


def load_samples(name: str, roots: dict[str, str], options: dict, label_scheme: str) -> tuple[pd.DataFrame, int]:
    """(samples with a ``part`` column, number of classes) of a configured real dataset."""
    from miex.datasets import load_dataset

    kw = dict(options)
    if name != "megc2019" or label_scheme != "3class":
        kw.setdefault("label_scheme", label_scheme)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_dataset(name, _root_arg(name, roots), **kw)
    samples = ds.samples.reset_index(drop=True).copy()
    if len(samples) == 0:
        raise MiexError(f"dataset {name} has no samples under {ds.root} (check [data] roots or `miex datasets check`)")
    if "part" not in samples.columns:
        samples["part"] = samples["dataset"]
    return samples, len(ds.classes)


def build_plan(config: ExperimentConfig) -> Plan:
    """Load the datasets of ``config`` (annotations only) and make its folds."""
    data, proto = config.data, config.protocol
    roots = {k: str(Path(v).expanduser()) for k, v in data["roots"].items()}
    samples, num_classes = load_samples(data["dataset"], roots, data["options"], data["label_scheme"])
    extra = None
    if data["extra_train"] and config.mode != "direct":
        parts = []
        for name in data["extra_train"]:
            rows, n = load_samples(name, roots, {}, data["label_scheme"])
            if n != num_classes:
                raise MiexError(f"[data] extra_train {name}: {n} classes, the evaluation dataset has {num_classes}")
            parts.append(rows)
        extra = pd.concat(parts, ignore_index=True)
    synthetic = None
    overlap: set[str] = set()
    if config.mode in ("direct", "pretrain_finetune"):
        from miex.datasets import MiexSynthetic

        path = Path(data["synthetic"]).expanduser()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            synthetic = MiexSynthetic(path)
        if len(synthetic.samples) == 0:
            raise MiexError(f"{path}: the synthetic set has no samples")
        overlap = provenance_subjects(synthetic.samples) & set(samples["subject"].astype(str))
    folds = make_folds(samples, cv=proto["cv"], k=proto["k"], seed=proto["seed"], repeats=proto["repeats"],
                       val_fraction=proto["val_fraction"])
    return Plan(config, samples, folds, num_classes, synthetic, extra, overlap)


# --------------------------------------------------------------------------- selections
def select_epochs(logits: np.ndarray, labels: np.ndarray, val_pos: np.ndarray, test_pos: np.ndarray) -> dict[str, int]:
    """0-based epoch per selection (see the module docstring); ``val_best`` only with val rows."""
    from miex.train.engine import cross_entropy, scores

    n_epochs = logits.shape[0]
    out = {"last": n_epochs - 1}
    for name, pos in (("val_best", val_pos), ("test_best", test_pos)):
        if len(pos) == 0:
            continue
        keys = []
        for e in range(n_epochs):
            lg = logits[e, pos]
            keys.append((scores(labels[pos], lg.argmax(1))["uf1"], -cross_entropy(lg, labels[pos]), -e))
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


# --------------------------------------------------------------------------- running
@dataclass
class RunSummary:
    out: Path
    predictions: pd.DataFrame
    seconds: float
    skipped_folds: int = 0

    def table(self) -> pd.DataFrame:
        """Pooled UF1/UAR/accuracy per selection (mean and std over repeats)."""
        from miex.train.engine import scores

        rows = []
        for selection, df in self.predictions.groupby("selection", sort=False):
            per = [scores(g["label"].to_numpy(), g["pred"].to_numpy()) for _, g in df.groupby("repeat")]
            row = {"selection": selection}
            for key in ("uf1", "uar", "acc"):
                vals = np.array([p[key] for p in per])
                row[key] = float(vals.mean())
                row[f"{key}_std"] = float(vals.std()) if len(vals) > 1 else 0.0
            rows.append(row)
        return pd.DataFrame(rows)


class RunLog:
    """Appends lines to ``RUN/train.log`` (rank 0) and echoes them to stderr unless quiet."""

    def __init__(self, path: Path, *, quiet: bool = False, enabled: bool = True) -> None:
        self.path = path
        self.quiet = quiet
        self.enabled = enabled

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        if not self.quiet:
            print(f"miex train: {message}", file=sys.stderr)


def prepare_run_dir(out: Path, config: ExperimentConfig, *, overwrite: bool, is_main: bool) -> None:
    """Create ``out``; refuse an earlier run with a different config (unless ``overwrite``)."""
    if out.exists() and not out.is_dir():
        raise MiexError(f"{out} exists and is not a folder")
    saved = out / "config.toml"
    if saved.is_file() and not overwrite:
        old = validate(read_toml(saved), str(saved))
        if old.content() != config.content():
            diff = _first_difference(old.content(), config.content())
            raise MiexError(f"{out} holds a run with a different config ({diff}); use another --out or --overwrite")
    if is_main:
        if overwrite and out.exists():
            for name in ("checkpoints", "parts", "tensorboard"):
                shutil.rmtree(out / name, ignore_errors=True)
            for name in ("predictions.parquet", "history.csv", "folds.parquet", "fold_counts.csv", "train.log"):
                (out / name).unlink(missing_ok=True)
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
        (out / "parts").mkdir(parents=True, exist_ok=True)
        write_text(saved, config.to_toml())


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    return f"{path}: {a!r} -> {b!r}"


def default_feature_cache() -> str:
    base = os.environ.get("MIEX_CACHE_DIR")
    if base:
        return str(Path(base).expanduser() / "features")
    xdg = os.environ.get("XDG_CACHE_HOME")
    return str(Path(xdg).expanduser() / "miex" / "features") if xdg else str(Path.home() / ".cache" / "miex" / "features")


def model_factory(config: ExperimentConfig, num_classes: int) -> Callable[[int], Any]:
    """``factory(seed) -> model``: ``miex.models.create`` with the ``[model]`` options, ImageNet
    backbone weights (``backbone_weights``) and/or a miex checkpoint (``init_weights``)."""
    from miex.models import create

    options = {k: v for k, v in config.model.items() if k not in ("name", "backbone_weights", "init_weights")}
    if config.model.get("backbone_weights"):
        options["pretrained_backbone"] = str(Path(config.model["backbone_weights"]).expanduser())
    name = config.model["name"]
    init = str(Path(config.model["init_weights"]).expanduser()) if config.model.get("init_weights") else ""

    def factory(seed: int) -> Any:
        model = create(name, num_classes=num_classes, seed=seed, **options)
        if init:
            load_model_weights(model, init)
        return model

    return factory


def load_model_weights(model: Any, path: str) -> None:
    """Load an ``init_weights`` file: a miex checkpoint (``{"model": state_dict, ...}``), a plain
    state_dict, or a partial file with ``init_modules`` (MA2MI pre-training); see
    :func:`miex.models.weights.load_init_weights`."""
    from miex.models.weights import load_init_weights

    load_init_weights(model, path)


def run_experiment(
    config: ExperimentConfig,
    out: str | os.PathLike[str],
    *,
    device: str | None = None,
    callbacks: Sequence[Callable] = (),
    overwrite: bool = False,
    quiet: bool = False,
    progress: bool = False,
) -> list[RunSummary]:
    """Train and predict every fold of every repeat (of every sweep run) into ``out``.

    ``device`` overrides ``[train] device`` (and ``[pretrain]``). ``callbacks`` are called as
    ``callback(job, epoch, train_row)`` after every epoch (tests interrupt runs with them).
    Returns one :class:`RunSummary` per run (sweeps: one per combination, in ``out/<name>/``).
    """
    out = Path(out)
    runs = expand_sweep(config)
    summaries = []
    if len(runs) > 1 or runs[0][0]:
        out.mkdir(parents=True, exist_ok=True)
        rows = [{"run": name, **{k: _get(cfg.raw, k) for k in config.sweep}} for name, cfg in runs]
        write_text(out / "sweep.csv", pd.DataFrame(rows).to_csv(index=False))
    for name, cfg in runs:
        if device:
            cfg.raw["train"]["device"] = device
            if "pretrain" in cfg.raw:
                cfg.raw["pretrain"]["device"] = device
        summaries.append(_run_one(cfg, out / name if name else out, callbacks=callbacks, overwrite=overwrite,
                                  quiet=quiet, progress=progress))
    return summaries


def _get(raw: dict, dotted: str) -> Any:
    node: Any = raw
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _run_one(config: ExperimentConfig, out: Path, *, callbacks: Sequence[Callable], overwrite: bool, quiet: bool,
             progress: bool) -> RunSummary:
    from miex.train.engine import TrainSettings, init_distributed, resolve_device

    started = time.perf_counter()
    settings = TrainSettings.from_mapping(config.train)
    dist_ctx = init_distributed(resolve_device(settings.device))
    try:
        prepare_run_dir(out, config, overwrite=overwrite, is_main=dist_ctx.is_main)
        dist_ctx.barrier()
        log = RunLog(out / "train.log", quiet=quiet, enabled=dist_ctx.is_main)
        plan = build_plan(config)
        counts = plan.fold_table()
        if dist_ctx.is_main:
            write_parquet(out / "folds.parquet", folds_frame(plan.folds, plan.samples))
            write_text(out / "fold_counts.csv", counts.to_csv(index=False))
        log(f"{config.source}: mode {config.mode}, {config.protocol['cv']}"
            f"{'' if config.protocol['cv'] == 'loso' else ' k=' + str(config.protocol['k'])}, "
            f"{config.protocol['repeats']} repeat(s), {len(plan.folds)} fold(s), {len(plan.samples)} samples, "
            f"{plan.samples['subject'].nunique()} subjects, model {config.model['name']}")
        for row in counts.itertuples(index=False):
            if row.synthetic_excluded:
                log(f"r{row.repeat}_f{row.fold}: excluded {row.synthetic_excluded} synthetic sample(s) whose AUs "
                    f"came from this fold's test/validation subjects; {row.synthetic_samples} used")
        trainer = make_trainer(config, plan, out, dist_ctx=dist_ctx, callbacks=callbacks, log=log, progress=progress)
        try:
            skipped = _train_folds(plan, trainer, out, log, dist_ctx.is_main, quiet=quiet)
        finally:
            trainer.close()
        predictions = _collect(out, dist_ctx.is_main)
        seconds = time.perf_counter() - started
        log(f"finished in {seconds:.1f} s; predictions in {out / 'predictions.parquet'}")
        return RunSummary(out, predictions, seconds, skipped)
    finally:
        dist_ctx.close()


def make_trainer(config: ExperimentConfig, plan: Plan, out: Path, *, dist_ctx=None, callbacks: Sequence[Callable] = (),
                 log: Callable[[str], None] | None = None, progress: bool = False):
    """The :class:`~miex.train.engine.Trainer` of a run (data options from ``[data]``)."""
    from miex.train.data import Augment
    from miex.train.engine import DataOptions, Trainer

    data = config.data
    aug = data["augment"]
    options = DataOptions(
        augment=Augment(enabled=aug["enabled"], resize_ratio=aug["resize_ratio"], rotate=aug["rotate"],
                        jitter=aug["jitter"], hflip=aug["hflip"]),
        feature_cache=str(Path(data["feature_cache"]).expanduser()) if data["feature_cache"] else default_feature_cache(),
        flow_method=data["flow_method"], flow_normalize=data["flow_normalize"], preload=data["preload"],
    )
    return Trainer(model_factory(config, plan.num_classes), out, data=options, dist_ctx=dist_ctx,
                   callbacks=callbacks, log=log, progress=progress)


def _job_seed(fold_seed: int, name: str) -> int:
    return int(rng(fold_seed, "job", name).integers(2**31 - 1))


def _train_folds(plan: Plan, trainer, out: Path, log: RunLog, is_main: bool, *, quiet: bool = False) -> int:
    """Run every unfinished fold; returns the number of folds skipped as already finished."""
    config = plan.config
    collector = Collector(out)
    pending = [f for f in plan.folds if not (out / "parts" / f"{f.name}.parquet").is_file()]
    skipped = len(plan.folds) - len(pending)
    shared: dict[int, Any] = {}  # repeat -> finished shared job result
    parallel = int(config.train.get("parallel_folds", 1))
    shared_direct = config.mode == "direct" and not plan.per_fold_synthetic
    if parallel > 1 and len(pending) > 1 and not trainer.dist.distributed and not trainer.callbacks \
            and not shared_direct:
        if config.mode == "pretrain_finetune" and not plan.per_fold_synthetic:
            pre = _settings(config.pretrain)
            for fold in pending:  # shared pre-training first, in this process
                if fold.repeat not in shared:
                    synth, _ = plan.synthetic_rows(None)
                    _pretrain(plan, trainer, fold, synth, pre, shared, out, log, is_main)
        _parallel_folds(plan, pending, out, collector, parallel, quiet)
        return skipped
    for fold in pending:
        _run_fold(plan, trainer, fold, shared, out, log, is_main)
        if is_main:
            collector.write(out)
        trainer.dist.barrier()
    for repeat in shared:
        if shared_direct:
            trainer.drop_optimizer(f"r{repeat}_all")
    return skipped


def _settings(section: dict):
    from miex.train.engine import TrainSettings

    return TrainSettings.from_mapping(section)


def _run_fold(plan: Plan, trainer, fold: Fold, shared: dict, out: Path, log: Callable[[str], None],
              is_main: bool) -> None:
    """Train (or resume) one fold and write its parts (predictions, history)."""
    from miex.train.engine import Job, scores

    config = plan.config
    train_settings = _settings(config.train)
    synth, excluded = plan.check(fold)
    eval_index = np.concatenate([fold.val, fold.test]).astype(np.int64)
    eval_rows = plan.samples.iloc[eval_index].reset_index(drop=True)
    roles = np.array(["val"] * len(fold.val) + ["test"] * len(fold.test))
    all_index = np.arange(len(plan.samples))
    jobs_done = []
    if config.mode == "direct" and not plan.per_fold_synthetic:
        name = f"r{fold.repeat}_all"
        if fold.repeat not in shared:
            job = Job(name, fold.repeat, -1, "train", synth, plan.samples, train_settings,
                      _job_seed(fold.seed, name), eval_roles=np.array(["eval"] * len(plan.samples)))
            log(f"{name}: training on {len(synth)} synthetic samples, evaluating {len(plan.samples)} real samples")
            shared[fold.repeat] = trainer.run(job)
            _write_history(out / "parts" / f"{name}_history.csv", pd.DataFrame(
                [{"repeat": fold.repeat, "fold": -1, "stage": "train", **h} for h in shared[fold.repeat].history],
                columns=HISTORY_COLUMNS), is_main)
        result = shared[fold.repeat]
        preds = fold_predictions(fold, plan.samples, result.logits, all_index)
        history = fold_history(fold, plan.samples, result.logits, all_index, result.history, "train",
                               include_train=False)
    else:
        init_from = None
        if config.mode == "direct":
            job = Job(fold.name, fold.repeat, fold.fold, "train", synth, eval_rows, train_settings,
                      _job_seed(fold.seed, fold.name), eval_roles=roles)
        else:
            if config.mode == "pretrain_finetune":
                init_from = _pretrain(plan, trainer, fold, synth, _settings(config.pretrain), shared, out,
                                      log, is_main)
            stage = "finetune" if config.mode == "pretrain_finetune" else "train"
            job = Job(fold.name, fold.repeat, fold.fold, stage, plan.real_train_rows(fold), eval_rows,
                      train_settings, _job_seed(fold.seed, fold.name), init_from=init_from, eval_roles=roles)
        log(f"{fold.name}: training on {len(job.train)} samples"
            f"{f' ({excluded} synthetic excluded by provenance)' if excluded else ''}, "
            f"val {len(fold.val)}, test {len(fold.test)}")
        result = trainer.run(job)
        preds = fold_predictions(fold, plan.samples, result.logits, eval_index)
        history = fold_history(fold, plan.samples, result.logits, eval_index, result.history, job.stage)
        jobs_done.append(job)
    last = preds[preds["selection"] == "last"]
    m = scores(last["label"].to_numpy(), last["pred"].to_numpy())
    log(f"{fold.name}: test UF1 {m['uf1']:.3f} UAR {m['uar']:.3f} (last epoch, {len(last)} samples)")
    if is_main:
        _write_history(out / "parts" / f"{fold.name}_history.csv", history, True)
        write_parquet(out / "parts" / f"{fold.name}.parquet", preds)
    trainer.dist.barrier()
    for job in jobs_done:
        trainer.finish(job)


# --------------------------------------------------------------------------- parallel folds
_WORKER_STATE: dict[str, tuple[Plan, Any]] = {}


def _worker_setup(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, int(threads)))


def _fold_in_worker(raw: dict, source: str, out: str, index: int, quiet: bool) -> str:
    """Run fold ``index`` of a run in a worker process (the plan is built once per process)."""
    state = _WORKER_STATE.get(out)
    if state is None:
        config = ExperimentConfig(raw, source)
        plan = build_plan(config)
        log = RunLog(Path(out) / "train.log", quiet=quiet)
        state = (plan, make_trainer(config, plan, Path(out), log=log))
        _WORKER_STATE[out] = state
    plan, trainer = state
    fold = plan.folds[index]
    _run_fold(plan, trainer, fold, {}, Path(out), trainer.log, True)
    return fold.name


def _parallel_folds(plan: Plan, pending: list[Fold], out: Path, collector: Collector, workers: int,
                    quiet: bool) -> None:
    """Independent folds in ``workers`` processes (each with ``[train] threads`` or 1 torch thread).
    Results are the same as sequential ones computed with that many threads."""
    import concurrent.futures as cf
    import multiprocessing as mp

    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    index = {f.name: i for i, f in enumerate(plan.folds)}
    threads = int(plan.config.train.get("threads") or 1)
    with cf.ProcessPoolExecutor(min(workers, len(pending)), mp_context=mp.get_context(method),
                                initializer=_worker_setup, initargs=(threads,)) as pool:
        futures = [pool.submit(_fold_in_worker, plan.config.raw, plan.config.source, str(out), index[f.name], quiet)
                   for f in pending]
        for future in cf.as_completed(futures):
            future.result()
            collector.write(out)


def _pretrain(plan: Plan, trainer, fold: Fold, synth: pd.DataFrame, settings, shared: dict, out: Path,
              log: RunLog, is_main: bool) -> Path:
    """Run (or reuse) the MiE-X pre-training for ``fold``; returns its checkpoint."""
    from miex.train.engine import Job

    per_fold = plan.per_fold_synthetic
    name = f"{fold.name}_pretrain" if per_fold else f"r{fold.repeat}_pretrain"
    path = trainer.checkpoint_path(name)
    if not per_fold and fold.repeat in shared:
        return path
    job = Job(name, fold.repeat, fold.fold if per_fold else -1, "pretrain", synth, None, settings,
              _job_seed(fold.seed, name))
    if trainer.finished(job) is None:
        log(f"{name}: pre-training on {len(synth)} synthetic samples")
    result = trainer.run(job)
    _write_history(out / "parts" / f"{name}_history.csv", pd.DataFrame(
        [{"repeat": fold.repeat, "fold": job.fold, "stage": "pretrain", **h} for h in result.history],
        columns=HISTORY_COLUMNS), is_main)
    if not per_fold:
        shared[fold.repeat] = result
    trainer.drop_optimizer(name)
    return path


def _write_history(path: Path, df: pd.DataFrame, is_main: bool) -> None:
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


def _collect(out: Path, is_main: bool) -> pd.DataFrame:
    """Concatenate the per-fold parts into ``predictions.parquet`` and ``history.csv``."""
    collector = Collector(out)
    return collector.write(out) if is_main else collector.predictions()


def _part_key(path: Path) -> tuple:
    import re

    nums = [int(n) for n in re.findall(r"\d+", path.stem)]
    return (nums + [-1, -1])[:2] + [path.stem]
