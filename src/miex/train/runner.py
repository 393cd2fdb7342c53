"""``miex train``: run an experiment config into a run folder (see docs/INTERFACES.md, "Runs").

The work is split by job:

- :mod:`miex.train.plan` loads and checks the data, prepares the face crops and makes the folds;
- :mod:`miex.train.modes` says what a fold trains on (``real``, ``direct``, ``pretrain_finetune``);
- :mod:`miex.train.rundir` owns the run folder and ``train.log``;
- :mod:`miex.train.collect` turns a fold's per-epoch logits into prediction and history rows
  and collects the parts into ``predictions.parquet`` and ``history.csv``;
- this module runs the folds (in this process, or independent folds in worker processes).

The run folder ``RUN/`` receives ``config.toml`` (the resolved config), ``folds.parquet``,
``fold_counts.csv`` (the dry-run table), ``data.json`` (samples per part, the face crop,
partial-data and missing-frame counts: what the report states about the data),
``predictions.parquet`` and ``history.csv`` (rewritten after every finished fold),
``checkpoints/``, ``parts/`` (per-fold results) and ``train.log``.

Re-running the same command resumes: finished folds are skipped, an unfinished job continues
after its last checkpointed epoch and gives the same predictions as an uninterrupted run.

``[train] parallel_folds = N`` trains N independent folds at a time in worker processes (one
torch thread each unless ``threads`` says otherwise): on a small CPU this beats one fold with N
threads for small models. Results equal a sequential run with the same thread count.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from miex.io import write_json, write_parquet, write_text
from miex.train.collect import Collector, RunSummary, collect, fold_history, fold_predictions, write_history
from miex.train.experiment import ExperimentConfig, expand_sweep
from miex.train.modes import FoldContext, get_mode
from miex.train.plan import Plan, build_plan
from miex.train.protocols import Fold, folds_frame
from miex.train.rundir import RunLog, check_run_dir, default_feature_cache, prepare_run_dir

__all__ = ["build_plan", "make_trainer", "run_experiment", "RunSummary"]


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
        import pandas as pd

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


def _describe(config: ExperimentConfig, plan: Plan) -> str:
    proto = config.protocol
    cv = proto["cv"] if proto["cv"] == "loso" else f"{proto['cv']} k={proto['k']}"
    line = (f"{config.source}: mode {config.mode}, {cv}, {proto['repeats']} repeat(s), {len(plan.folds)} fold(s), "
            f"{len(plan.samples)} samples, {plan.samples['subject'].nunique()} subjects, model {config.model['name']}")
    if proto["val_fraction"] > 0:
        line += (f"; validation carve-out: {proto['val_fraction']:.0%} of each fold's training subjects are held "
                 "out (every selection trains on the rest)")
    return line


def _run_one(config: ExperimentConfig, out: Path, *, callbacks: Sequence[Callable], overwrite: bool, quiet: bool,
             progress: bool) -> RunSummary:
    from miex.train.engine import TrainSettings, init_distributed, resolve_device

    started = time.perf_counter()
    settings = TrainSettings.from_mapping(config.train)
    dist_ctx = init_distributed(resolve_device(settings.device))
    try:
        # everything that can refuse the run happens before its folder exists
        check_run_dir(out, config, overwrite=overwrite)
        log = RunLog(out / "train.log", quiet=quiet, enabled=dist_ctx.is_main, deferred=True)
        plan = build_plan(config, log=log, progress=progress and dist_ctx.is_main)
        counts = plan.fold_table()
        prepare_run_dir(out, config, overwrite=overwrite, is_main=dist_ctx.is_main)
        dist_ctx.barrier()
        log.open()
        if dist_ctx.is_main:
            write_parquet(out / "folds.parquet", folds_frame(plan.folds, plan.samples))
            write_text(out / "fold_counts.csv", counts.to_csv(index=False))
            write_json(out / "data.json", {**plan.notes, "val_fraction": config.protocol["val_fraction"]})
        log(_describe(config, plan))
        for row in counts.itertuples(index=False):
            if row.synthetic_excluded:
                log(f"r{row.repeat}_f{row.fold}: excluded {row.synthetic_excluded} synthetic sample(s) whose AUs "
                    f"came from this fold's test/validation subjects; {row.synthetic_samples} used")
        trainer = make_trainer(config, plan, out, dist_ctx=dist_ctx, callbacks=callbacks, log=log, progress=progress)
        try:
            skipped = _train_folds(plan, trainer, out, log, dist_ctx.is_main, quiet=quiet)
        finally:
            trainer.close()
        predictions = collect(out, dist_ctx.is_main)
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
    from miex.train.models import model_factory

    data = config.data
    aug = data["augment"]
    options = DataOptions(
        augment=Augment(enabled=aug["enabled"], resize_ratio=aug["resize_ratio"], rotate=aug["rotate"],
                        jitter=aug["jitter"], hflip=aug["hflip"]),
        feature_cache=str(Path(data["feature_cache"]).expanduser()) if data["feature_cache"] else default_feature_cache(),
        flow_method=data["flow_method"], flow_normalize=data["flow_normalize"], preload=data["preload"],
        reader=plan.reader,
    )
    return Trainer(model_factory(config, plan.num_classes), out, data=options, dist_ctx=dist_ctx,
                   callbacks=callbacks, log=log, progress=progress)


# --------------------------------------------------------------------------- folds
def _train_folds(plan: Plan, trainer, out: Path, log: RunLog, is_main: bool, *, quiet: bool = False) -> int:
    """Run every unfinished fold; returns the number of folds skipped as already finished."""
    mode = get_mode(plan.mode)
    collector = Collector(out)
    pending = [f for f in plan.folds if not (out / "parts" / f"{f.name}.parquet").is_file()]
    skipped = len(plan.folds) - len(pending)
    ctx = FoldContext(plan, trainer, out, log, is_main)
    parallel = int(plan.config.train.get("parallel_folds", 1))
    if parallel > 1 and len(pending) > 1 and not trainer.dist.distributed and not trainer.callbacks \
            and not mode.shares_model(plan):
        mode.before_parallel(ctx, pending)
        _parallel_folds(plan, pending, out, collector, parallel, quiet)
        return skipped
    for fold in pending:
        run_fold(ctx, fold)
        if is_main:
            collector.write(out)
        trainer.dist.barrier()
    if mode.shares_model(plan):
        for repeat in ctx.shared:
            trainer.drop_optimizer(f"r{repeat}_all")
    return skipped


def run_fold(ctx: FoldContext, fold: Fold) -> None:
    """Train (or resume) one fold with the run's mode and write its parts (predictions, history)."""
    from miex.train.engine import scores

    plan = ctx.plan
    plan.check(fold)
    output = get_mode(plan.mode).run_fold(ctx, fold)
    preds = fold_predictions(fold, plan.samples, output.logits, output.eval_index)
    history = fold_history(fold, plan.samples, output.logits, output.eval_index, output.history, output.stage,
                           include_train=output.include_train_history)
    last = preds[preds["selection"] == "last"]
    m = scores(last["label"].to_numpy(), last["pred"].to_numpy())
    ctx.log(f"{fold.name}: test UF1 {m['uf1']:.3f} UAR {m['uar']:.3f} (last epoch, {len(last)} samples)")
    if ctx.is_main:
        write_history(ctx.out / "parts" / f"{fold.name}_history.csv", history, True)
        write_parquet(ctx.out / "parts" / f"{fold.name}.parquet", preds)
    ctx.trainer.dist.barrier()
    for job in output.jobs:
        ctx.trainer.finish(job)


# --------------------------------------------------------------------------- parallel folds
_WORKER_STATE: dict[str, FoldContext] = {}


def _worker_setup(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, int(threads)))


def _fold_in_worker(raw: dict, source: str, out: str, index: int, quiet: bool) -> str:
    """Run fold ``index`` of a run in a worker process (the plan is built once per process; its
    crops are already in the cache)."""
    ctx = _WORKER_STATE.get(out)
    if ctx is None:
        config = ExperimentConfig(raw, source)
        log = RunLog(Path(out) / "train.log", quiet=quiet)
        plan = build_plan(config)  # silent: the main process has logged the data notes
        ctx = FoldContext(plan, make_trainer(config, plan, Path(out), log=log), Path(out), log)
        _WORKER_STATE[out] = ctx
    fold = ctx.plan.folds[index]
    run_fold(ctx, fold)
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
