"""Training for the classical baselines (handcrafted features + a scikit-learn estimator).

:class:`ClassicalTrainer` has the interface of :class:`miex.train.engine.Trainer` that the
runner uses (``run(job) -> JobResult``, ``finished``, ``finish``, ``drop_optimizer``,
``checkpoint_path``, ``close``, ``dist``, ``callbacks``, ``log``), so LOSO / k-fold plans,
predictions, history and reports work unchanged. A job:

- computes (or reads from the feature cache) the feature vector of every training and
  evaluation sample, through the same :class:`~miex.train.data.SampleDataset` as flow models;
- fits the model's estimator once (one "epoch"), seeded with the job's seed;
- scores the evaluation rows: the decision values are the logits, so ``prob_*`` in
  ``predictions.parquet`` are their softmax (a monotone transform, not calibrated probabilities);
- writes ``checkpoints/<job>_last.pkl`` (the fitted estimator, the logits and the history,
  pickled atomically), which a re-run reads instead of refitting.

``[train] epochs`` does not apply (an SVM is fitted once); ``pretrain_finetune`` is refused
(an SVM cannot be fine-tuned from another model's weights).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from miex.errors import MiexError
from miex.io import atomic_path
from miex.train.engine import Job, JobResult, JobRunner, cross_entropy, scores

FORMAT = 1


class ClassicalTrainer(JobRunner):
    """Fits a :class:`miex.models.ClassicalModel` per job (see the module docstring)."""

    def checkpoint_path(self, name: str, kind: str = "last") -> Path:
        return self.run_dir / "checkpoints" / f"{name}_{kind}.pkl"

    def finished(self, job: Job) -> JobResult | None:
        path = self.checkpoint_path(job.name)
        if not path.is_file():
            return None
        try:
            with open(path, "rb") as fh:
                state = pickle.load(fh)
        except Exception as exc:  # noqa: BLE001 - a damaged pickle raises many types
            raise MiexError(f"{path}: unreadable checkpoint ({type(exc).__name__}); delete it to refit") from None
        return JobResult(job.name, state["logits"], list(state["history"]), 1)

    def run(self, job: Job) -> JobResult:
        done = self.finished(job)
        if done is not None:
            return done
        if job.init_from is not None:
            raise MiexError(f"{job.name}: classical models (features + SVM) cannot start from another model's "
                            "weights; use [protocol] mode = \"real\" or \"direct\"")
        model = self.model_factory(job.seed)
        spec = model.input_spec
        workers = max(int(job.settings.workers), 0)
        x_train = self._features_of(job.train, spec, "training", job.name, workers)
        y_train = job.train["label"].astype("int64").to_numpy()
        model.fit(x_train, y_train, seed=job.seed)
        train_logits = model.scores(x_train)
        row = {"epoch": 1, "split": "train", "loss": cross_entropy(train_logits.astype(np.float64), y_train),
               **scores(y_train, train_logits.argmax(1)), "lr": 0.0}
        if job.eval is not None and len(job.eval):
            logits = model.scores(self._features_of(job.eval, spec, "evaluation", job.name, workers))[None]
        else:
            logits = np.zeros((1, 0, model.num_classes), np.float32)
        history = [row]
        if self.dist.is_main:
            with atomic_path(self.checkpoint_path(job.name)) as tmp, open(tmp, "wb") as fh:
                pickle.dump({"format": FORMAT, "job": job.name, "model": model.state(), "logits": logits,
                             "history": history, "model_config": getattr(model, "miex_config", {})}, fh)
        for callback in self.callbacks:
            callback(job, 1, row)
        return JobResult(job.name, logits.astype(np.float32), history, 1)

    def _features_of(self, rows, spec: Any, what: str, name: str, workers: int) -> np.ndarray:
        ds = self._dataset(rows, spec, train=False, seed=0, stream=name)
        self._prepare(ds, workers, what, name)
        return np.stack([ds.load(i) for i in range(len(ds))]) if len(ds) else np.zeros(spec.shape(0), np.float32)

    def finish(self, job: Job) -> None:
        if self.dist.is_main and not job.settings.keep_checkpoints:
            self.checkpoint_path(job.name).unlink(missing_ok=True)

    def drop_optimizer(self, name: str) -> None:
        """Nothing to drop (kept for the Trainer interface)."""

    def close(self) -> None:
        """Nothing to close (kept for the Trainer interface)."""
