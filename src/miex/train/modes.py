"""Run modes (``[protocol] mode``) as small strategy objects: what one fold trains on.

- ``real``: each fold trains on its training subjects (+ ``[data] extra_train`` datasets).
- ``direct``: a model trained on the MiE-X set only, tested on the real folds. One model per
  repeat serves all folds, unless the set's z^MiE came from subjects of the evaluation dataset
  (``au_subject`` provenance): then each fold trains its own model on the rows that are not
  from its test or validation subjects.
- ``pretrain_finetune``: MiE-X pre-training (shared or per fold, as above), then fine-tuning on
  each fold's real training data.

A new mode is one more class in :data:`MODES`; the runner only calls :meth:`Mode.run_fold`
(and :meth:`Mode.before_parallel` when folds run in worker processes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from miex.errors import MiexError
from miex.seeding import rng


@dataclass
class FoldContext:
    """What a mode needs to train a fold: the plan, the trainer, the run folder, the log and the
    jobs shared between folds (``shared``: repeat -> result)."""

    plan: Any
    trainer: Any
    out: Path
    log: Callable[[str], None]
    is_main: bool = True
    shared: dict = field(default_factory=dict)


@dataclass
class FoldOutput:
    """A fold's per-epoch logits over ``eval_index`` (rows of the plan's samples), the training
    history rows, the stage name, and the jobs to finish once the fold's parts are written."""

    logits: np.ndarray
    eval_index: np.ndarray
    history: list[dict]
    stage: str
    jobs: list = field(default_factory=list)
    include_train_history: bool = True


def job_seed(fold_seed: int, name: str) -> int:
    return int(rng(fold_seed, "job", name).integers(2**31 - 1))


def settings_of(section: dict):
    from miex.train.engine import TrainSettings

    return TrainSettings.from_mapping(section)


def eval_rows(plan, fold) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """(eval index, eval rows, role per row): a fold's validation then test rows."""
    index = np.concatenate([fold.val, fold.test]).astype(np.int64)
    roles = np.array(["val"] * len(fold.val) + ["test"] * len(fold.test))
    return index, plan.samples.iloc[index].reset_index(drop=True), roles


def write_stage_history(ctx: FoldContext, name: str, fold: int, repeat: int, stage: str, history: list[dict]) -> None:
    from miex.train.collect import HISTORY_COLUMNS, write_history

    rows = [{"repeat": repeat, "fold": fold, "stage": stage, **h} for h in history]
    write_history(ctx.out / "parts" / f"{name}_history.csv", pd.DataFrame(rows, columns=HISTORY_COLUMNS), ctx.is_main)


class Mode:
    """One way of training a fold (see the module docstring)."""

    name: ClassVar[str] = ""
    uses_synthetic: ClassVar[bool] = False
    uses_real_training: ClassVar[bool] = True
    default_schedule: ClassVar[str] = "real"

    def shares_model(self, plan) -> bool:
        """True when one model of each repeat serves every fold."""
        return False

    def before_parallel(self, ctx: FoldContext, pending: list) -> None:
        """Work shared by the folds, done in this process before folds run in workers."""

    def run_fold(self, ctx: FoldContext, fold) -> FoldOutput:
        raise NotImplementedError

    def _train_real(self, ctx: FoldContext, fold, stage: str, init_from: Path | None = None) -> FoldOutput:
        from miex.train.engine import Job

        plan = ctx.plan
        index, rows, roles = eval_rows(plan, fold)
        job = Job(fold.name, fold.repeat, fold.fold, stage, plan.real_train_rows(fold), rows,
                  settings_of(plan.config.train), job_seed(fold.seed, fold.name), init_from=init_from,
                  eval_roles=roles)
        ctx.log(f"{fold.name}: training on {len(job.train)} samples, val {len(fold.val)}, test {len(fold.test)}")
        result = ctx.trainer.run(job)
        return FoldOutput(result.logits, index, result.history, stage, [job])


class RealMode(Mode):
    name = "real"

    def run_fold(self, ctx: FoldContext, fold) -> FoldOutput:
        return self._train_real(ctx, fold, "train")


class DirectMode(Mode):
    name = "direct"
    uses_synthetic = True
    uses_real_training = False
    default_schedule = "synthetic"

    def shares_model(self, plan) -> bool:
        return not plan.per_fold_synthetic

    def run_fold(self, ctx: FoldContext, fold) -> FoldOutput:
        from miex.train.engine import Job

        plan = ctx.plan
        settings = settings_of(plan.config.train)
        synth, excluded = plan.synthetic_rows(fold)  # the runner has checked this fold for leakage
        if self.shares_model(plan):
            name = f"r{fold.repeat}_all"
            if fold.repeat not in ctx.shared:
                job = Job(name, fold.repeat, -1, "train", synth, plan.samples, settings, job_seed(fold.seed, name),
                          eval_roles=np.array(["eval"] * len(plan.samples)))
                ctx.log(f"{name}: training on {len(synth)} synthetic samples, evaluating {len(plan.samples)} "
                        "real samples")
                ctx.shared[fold.repeat] = ctx.trainer.run(job)
                write_stage_history(ctx, name, -1, fold.repeat, "train", ctx.shared[fold.repeat].history)
            result = ctx.shared[fold.repeat]
            return FoldOutput(result.logits, np.arange(len(plan.samples)), result.history, "train",
                              include_train_history=False)
        index, rows, roles = eval_rows(plan, fold)
        job = Job(fold.name, fold.repeat, fold.fold, "train", synth, rows, settings, job_seed(fold.seed, fold.name),
                  eval_roles=roles)
        ctx.log(f"{fold.name}: training on {len(synth)} synthetic samples ({excluded} excluded by provenance), "
                f"val {len(fold.val)}, test {len(fold.test)}")
        result = ctx.trainer.run(job)
        return FoldOutput(result.logits, index, result.history, "train", [job])


class PretrainFinetuneMode(Mode):
    name = "pretrain_finetune"
    uses_synthetic = True

    def before_parallel(self, ctx: FoldContext, pending: list) -> None:
        if ctx.plan.per_fold_synthetic:
            return
        for fold in pending:
            if fold.repeat not in ctx.shared:
                self.pretrain(ctx, fold)

    def run_fold(self, ctx: FoldContext, fold) -> FoldOutput:
        return self._train_real(ctx, fold, "finetune", init_from=self.pretrain(ctx, fold))

    def pretrain(self, ctx: FoldContext, fold) -> Path:
        """Run (or reuse) the MiE-X pre-training for ``fold``; returns its checkpoint."""
        from miex.train.engine import Job

        plan, trainer = ctx.plan, ctx.trainer
        per_fold = plan.per_fold_synthetic
        name = f"{fold.name}_pretrain" if per_fold else f"r{fold.repeat}_pretrain"
        path = trainer.checkpoint_path(name)
        if not per_fold and fold.repeat in ctx.shared:
            return path
        synth, excluded = plan.synthetic_rows(fold if per_fold else None)
        job = Job(name, fold.repeat, fold.fold if per_fold else -1, "pretrain", synth, None,
                  settings_of(plan.config.pretrain), job_seed(fold.seed, name))
        if trainer.finished(job) is None:
            note = f" ({excluded} excluded by provenance)" if excluded else ""
            ctx.log(f"{name}: pre-training on {len(synth)} synthetic samples{note}")
        result = trainer.run(job)
        write_stage_history(ctx, name, job.fold, fold.repeat, "pretrain", result.history)
        if not per_fold:
            ctx.shared[fold.repeat] = result
        trainer.drop_optimizer(name)
        return path


MODES: dict[str, type[Mode]] = {m.name: m for m in (RealMode, DirectMode, PretrainFinetuneMode)}


def get_mode(name: str) -> Mode:
    try:
        return MODES[name]()
    except KeyError:
        raise MiexError(f"unknown mode {name!r}; choose one of {', '.join(MODES)}") from None
