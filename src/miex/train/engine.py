"""The training loop: plain PyTorch, resumable, deterministic on CPU, DDP under ``torchrun``.

One :class:`Job` trains one model (a fold, a pre-training stage, or a model shared by all
folds) and evaluates it on its evaluation rows after every epoch. :meth:`Trainer.run`

- builds the model with a seed (``miex.models.create(..., seed=job.seed)``), optionally starts
  from another job's weights (fine-tuning after pre-training);
- trains with Adam (lr, weight decay), gradient-norm clipping and a per-epoch learning-rate
  schedule: ``epochs`` constant epochs, then ``decay_epochs`` with a linear decay
  (design.md: synthetic 10 + 10, real data 80 + 0);
- after every epoch (``checkpoint_every``) writes ``checkpoints/<job>_last.pt`` atomically
  (model, optimiser, the epoch, the history rows and the per-epoch evaluation logits), plus
  ``<job>_best.pt`` (model weights) when the validation UF1 improves; a re-run resumes after
  the last saved epoch and reproduces an uninterrupted run exactly;
- logs the training loss/metrics per epoch (rows of ``history.csv``) and, when
  ``torch.utils.tensorboard`` imports, TensorBoard scalars under ``RUN/tensorboard``.

Determinism: every random draw comes from a seeded source: model initialisation
(``create(seed=...)``), shuffling (``DistributedSampler`` seeded per epoch), augmentation
(``miex.seeding.rng`` per sample and epoch) and dropout (torch's global generator, re-seeded at
the start of every epoch *inside* ``torch.random.fork_rng``, so the caller's global RNG state is
restored afterwards). :func:`deterministic` switches on ``torch.use_deterministic_algorithms``
(warn-only) for the duration of a run and restores the previous setting.

Distributed: when launched by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment),
:func:`init_distributed` initialises ``torch.distributed`` (``nccl`` on CUDA, ``gloo`` on CPU),
the model is wrapped in ``DistributedDataParallel`` and the training rows are sharded by
``DistributedSampler``; ``batch_size`` is per process. Every rank evaluates all evaluation rows
(they are small); only rank 0 writes files. Without ``WORLD_SIZE`` (or with 1) nothing of this
happens.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from miex.errors import MiexError
from miex.io import atomic_path
from miex.seeding import rng
from miex.preprocess import FrameReader
from miex.train.data import Augment, SampleDataset, make_loader

CHECKPOINT_FORMAT = 1


# --------------------------------------------------------------------------- settings
@dataclass
class TrainSettings:
    """One training stage (``[train]`` or ``[pretrain]`` of an experiment config)."""

    epochs: int = 80
    decay_epochs: int = 0
    batch_size: int = 32
    eval_batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 5e-4
    clip: float = 1.0
    augment: bool = True
    workers: int = 0
    threads: int = 0
    device: str = "auto"
    amp: bool = False
    keep_checkpoints: bool = True
    checkpoint_every: int = 1

    @property
    def total_epochs(self) -> int:
        return int(self.epochs) + int(self.decay_epochs)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> "TrainSettings":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def lr_factor(epoch: int, epochs: int, decay_epochs: int) -> float:
    """Learning-rate multiplier of (0-based) ``epoch``: 1 for the first ``epochs`` epochs, then
    a linear decay over ``decay_epochs`` epochs: (decay_epochs - i) / decay_epochs for the
    i-th decay epoch (i = 0 ... decay_epochs - 1), as in the MiE-X code's linear decay."""
    if epoch < epochs or decay_epochs <= 0:
        return 1.0
    i = epoch - epochs
    return max(0.0, (decay_epochs - i) / decay_epochs)


# --------------------------------------------------------------------------- metrics
def scores(labels: np.ndarray, preds: np.ndarray) -> dict[str, float]:
    """UF1, UAR and accuracy of one epoch's predictions (NaN without rows), from
    :func:`miex.evaluate.metrics.scores`, the one metrics source."""
    from miex.evaluate.metrics import scores as metric_scores

    m = metric_scores(labels, preds, empty_ok=True)
    return {"uf1": float(m["uf1"]), "uar": float(m["uar"]), "acc": float(m["acc"])}


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of ``logits`` (n, C) for integer ``labels``."""
    if len(labels) == 0:
        return float("nan")
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def selection_key(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """How an epoch ranks for ``val_best`` / ``test_best``: higher UF1 first, then lower
    cross-entropy; among equal keys the earlier epoch wins (so ``_best.pt`` and the reported
    ``val_best`` epoch are the same epoch)."""
    return (scores(labels, logits.argmax(1))["uf1"], -cross_entropy(logits, labels))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------- jobs
@dataclass
class Job:
    """One model to train.

    ``name`` is the checkpoint stem (``r0_f3``, ``r0_pretrain``, ``r0_all``); ``train`` the
    training rows (a samples DataFrame); ``eval`` the rows evaluated after every epoch (or
    None); ``init_from`` a checkpoint whose model weights start this job.
    """

    name: str
    repeat: int
    fold: int
    stage: str
    train: pd.DataFrame
    eval: pd.DataFrame | None
    settings: TrainSettings
    seed: int
    init_from: Path | None = None
    eval_roles: np.ndarray | None = None  # role per eval row ("val" | "test" | "eval"), for best-val tracking


@dataclass
class JobResult:
    name: str
    logits: np.ndarray  # (epochs, n_eval, C) float32
    history: list[dict] = field(default_factory=list)  # training rows: epoch, split, loss, uf1, uar, acc, lr
    epochs: int = 0


EpochCallback = Callable[[Job, int, dict], None]


# --------------------------------------------------------------------------- distributed
@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialised_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.initialised_here:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.initialised_here = False


def init_distributed(device: torch.device) -> DistContext:
    """A :class:`DistContext` from the ``torchrun`` environment (``WORLD_SIZE``, ``RANK``,
    ``LOCAL_RANK``); single-process when ``WORLD_SIZE`` is unset or 1."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return DistContext()
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    here = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
        here = True
    return DistContext(rank=rank, world_size=world, local_rank=local, initialised_here=here)


def resolve_device(name: str, dist_ctx: DistContext | None = None) -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cuda`` under DDP -> ``cuda:LOCAL_RANK``."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise MiexError("device cuda was requested but torch sees no CUDA device (use --device cpu)")
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if name == "cuda" and int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
            return torch.device(f"cuda:{local}")
        return torch.device(name)
    if name != "cpu":
        raise MiexError(f"unknown device {name!r}; use cpu, cuda or auto")
    return torch.device("cpu")


@contextlib.contextmanager
def deterministic(device: torch.device, threads: int = 0) -> Iterator[None]:
    """Deterministic algorithms (warn-only), no cuDNN benchmarking and ``threads`` torch threads
    (0: leave as is) for the block; the previous settings are restored afterwards.
    On CUDA, deterministic cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` set before CUDA
    starts; it is set here when absent (effective if CUDA was not initialised yet)."""
    before = torch.are_deterministic_algorithms_enabled()
    before_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    bench = torch.backends.cudnn.benchmark
    n_threads = torch.get_num_threads()
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    if threads and threads > 0:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=before_warn)
        torch.backends.cudnn.benchmark = bench
        torch.set_num_threads(n_threads)


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict | None:
    """A checkpoint dict, or None when absent. A corrupt file raises MiexError naming it."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for damaged files
        raise MiexError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc}); delete it to retrain") from None


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


# --------------------------------------------------------------------------- data options
@dataclass
class DataOptions:
    """How samples become model inputs (the ``[data]`` keys that matter to training)."""

    augment: Augment = field(default_factory=Augment)
    feature_cache: str | None = None
    flow_method: str = "tvl1"
    flow_normalize: str = "minmax"
    preload: bool = False
    reader: FrameReader = field(default_factory=FrameReader)  # whole frames or face crops


# --------------------------------------------------------------------------- trainer
class JobRunner:
    """What every trainer of a run shares (:class:`Trainer`, and the classical baselines'
    :class:`miex.train.classical.ClassicalTrainer`): the model factory, the run folder, the data
    options, the distributed context, the epoch callbacks, the log, and the datasets of a job."""

    def __init__(
        self,
        model_factory: Callable[[int], Any],
        run_dir: str | os.PathLike[str],
        *,
        data: DataOptions | None = None,
        dist_ctx: DistContext | None = None,
        callbacks: Sequence[EpochCallback] = (),
        log: Callable[[str], None] | None = None,
        progress: bool = False,
    ) -> None:
        self.model_factory = model_factory
        self.run_dir = Path(run_dir)
        self.data = data or DataOptions()
        self.dist = dist_ctx or DistContext()
        self.callbacks = list(callbacks)
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.progress = progress
        self._features: dict = {}  # features shared by the jobs of a run (see SampleDataset.prepare)

    def _dataset(self, rows: pd.DataFrame, spec: Any, *, train: bool, seed: int, stream: str) -> SampleDataset:
        d = self.data
        return SampleDataset(
            rows, spec, train=train, augment=d.augment, seed=seed, stream=stream, feature_cache=d.feature_cache,
            flow_method=d.flow_method, flow_normalize=d.flow_normalize, preload=d.preload, reader=d.reader,
        )

    def _prepare(self, ds: SampleDataset, workers: int, what: str, name: str) -> None:
        """Read or compute the features of ``ds`` (shared by the run's jobs); log what was computed."""
        cached, computed = ds.prepare(workers=max(int(workers), 0), progress=self.progress, memo=self._features)
        if computed:
            self.log(f"{name}: computed {computed} {what} feature(s), {cached} from the cache")


class Trainer(JobRunner):
    """Runs :class:`Job` s into ``run_dir`` (see the module docstring)."""

    def __init__(
        self,
        model_factory: Callable[[int], nn.Module],
        run_dir: str | os.PathLike[str],
        *,
        tensorboard: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(model_factory, run_dir, **options)
        self.tensorboard = tensorboard
        self._writer: Any = None

    # ------------------------------------------------------------------ paths
    def checkpoint_path(self, name: str, kind: str = "last") -> Path:
        return self.run_dir / "checkpoints" / f"{name}_{kind}.pt"

    # ------------------------------------------------------------------ public
    def finished(self, job: Job) -> JobResult | None:
        """The result of a job whose last checkpoint says it is done, else None."""
        state = load_checkpoint(self.checkpoint_path(job.name))
        if state is None or not state.get("done"):
            return None
        return _result(job.name, state)

    def run(self, job: Job) -> JobResult:
        """Train ``job`` (or resume it, or return its finished result)."""
        done = self.finished(job)
        if done is not None:
            return done
        s = job.settings
        device = resolve_device(s.device, self.dist)
        devices = [device.index or 0] if device.type == "cuda" else []
        with deterministic(device, s.threads), torch.random.fork_rng(devices=devices):
            return self._run(job, device)

    def finish(self, job: Job) -> None:
        """After a fold's results are stored: drop the optimiser state from its last checkpoint,
        or delete its checkpoints when ``keep_checkpoints`` is false."""
        if not self.dist.is_main:
            return
        if not job.settings.keep_checkpoints:
            self.checkpoint_path(job.name).unlink(missing_ok=True)
            self.checkpoint_path(job.name, "best").unlink(missing_ok=True)
            return
        self.drop_optimizer(job.name)

    def drop_optimizer(self, name: str) -> None:
        """Remove the optimiser state from a finished job's last checkpoint (about 2/3 of its size)."""
        if not self.dist.is_main:
            return
        last = self.checkpoint_path(name)
        state = load_checkpoint(last)
        if state is not None and state.get("done") and "optimizer" in state:
            state.pop("optimizer")
            save_checkpoint(last, state)

    # ------------------------------------------------------------------ internals
    def _model(self, job: Job, device: torch.device) -> nn.Module:
        model = self.model_factory(job.seed)
        if job.init_from is not None:
            state = load_checkpoint(Path(job.init_from))
            if state is None:
                raise MiexError(f"{job.init_from}: the checkpoint to start {job.name} from does not exist")
            unwrap(model).load_state_dict(state["model"])
        return model.to(device)

    def _run(self, job: Job, device: torch.device) -> JobResult:
        s = job.settings
        model = self._model(job, device)
        spec = unwrap(model).input_spec
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=s.lr, weight_decay=s.weight_decay)
        history: list[dict] = []
        logits: list[np.ndarray] = []
        start = 0
        best: tuple[float, float] = (-math.inf, -math.inf)
        last_path = self.checkpoint_path(job.name)
        state = load_checkpoint(last_path)
        eval_keys = _keys(job.eval)
        if state is not None:
            if state.get("eval_keys") != eval_keys or state.get("total_epochs") != s.total_epochs:
                raise MiexError(
                    f"{last_path}: this checkpoint belongs to a different experiment (other folds, data or "
                    "epochs); use a new --out folder or --overwrite"
                )
            unwrap(model).load_state_dict(state["model"])
            if "optimizer" in state:
                optimizer.load_state_dict(state["optimizer"])
            start = int(state["epoch"])
            history = list(state["history"])
            logits = [x.numpy() for x in state["logits"]]
            best = tuple(state.get("best_key", (-math.inf, -math.inf)))
            self.log(f"{job.name}: resuming after epoch {start}/{s.total_epochs}")

        train_ds = self._dataset(job.train, spec, train=s.augment, seed=job.seed, stream=job.name)
        eval_ds = None
        if job.eval is not None and len(job.eval):
            eval_ds = self._dataset(job.eval, spec, train=False, seed=job.seed, stream=job.name)
        for ds, what in ((train_ds, "training"), (eval_ds, "evaluation")):
            if ds is not None:
                self._prepare(ds, s.workers, what, job.name)
        if len(train_ds) == 0:
            raise MiexError(f"{job.name}: no training samples")

        net: nn.Module = model
        if self.dist.distributed:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        roles = job.eval_roles
        val_mask = (roles == "val") if roles is not None else None
        eval_labels = job.eval["label"].astype("int64").to_numpy() if job.eval is not None else np.zeros(0, int)

        bar = self._epoch_bar(job, start, s.total_epochs)
        for epoch in range(start, s.total_epochs):
            factor = lr_factor(epoch, s.epochs, s.decay_epochs)
            for group in optimizer.param_groups:
                group["lr"] = s.lr * factor
            torch.manual_seed(int(rng(job.seed, "dropout", job.name, epoch, self.dist.rank).integers(2**62)))
            row = self._train_epoch(net, optimizer, train_ds, job, epoch, device)
            row.update({"epoch": epoch + 1, "split": "train", "lr": s.lr * factor})
            history.append(row)
            if eval_ds is not None:
                logits.append(predict(net, eval_ds, s.eval_batch_size, device, amp=s.amp, workers=s.workers))
            improved = False
            if val_mask is not None and val_mask.any() and logits:
                key = selection_key(logits[-1][val_mask], eval_labels[val_mask])
                if key > best:  # strictly better: on a tie the earlier epoch stays
                    best, improved = key, True
            self._tensorboard(job, row, logits[-1] if logits else None, eval_labels, roles)
            if self.dist.is_main:
                if improved:
                    save_checkpoint(self.checkpoint_path(job.name, "best"),
                                    {"format": CHECKPOINT_FORMAT, "model": unwrap(model).state_dict(), "epoch": epoch + 1,
                                     "model_config": getattr(unwrap(model), "miex_config", {})})
                if (epoch + 1) % max(1, s.checkpoint_every) == 0 or epoch + 1 == s.total_epochs:
                    save_checkpoint(last_path, {
                        "format": CHECKPOINT_FORMAT, "job": job.name, "epoch": epoch + 1,
                        "total_epochs": s.total_epochs, "done": epoch + 1 == s.total_epochs,
                        "model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(), "history": history,
                        "logits": [torch.from_numpy(x) for x in logits], "eval_keys": eval_keys, "best_key": list(best),
                        "model_config": getattr(unwrap(model), "miex_config", {}),
                    })
            self.dist.barrier()
            if bar is not None:
                bar.set_postfix(_bar_postfix(row, logits[-1] if logits else None, eval_labels, val_mask))
                bar.update(1)
            for callback in self.callbacks:
                callback(job, epoch + 1, row)
        if bar is not None:
            bar.close()
        n_classes = _num_classes(model)
        stacked = np.stack(logits) if logits else np.zeros((0, 0, n_classes), np.float32)
        return JobResult(job.name, stacked.astype(np.float32), history, s.total_epochs)

    def _epoch_bar(self, job: Job, start: int, total: int):
        """A tqdm bar over the job's epochs (rank 0, with ``progress``; None otherwise)."""
        if not (self.progress and self.dist.is_main) or start >= total:
            return None
        from tqdm import tqdm

        return tqdm(total=total, initial=start, desc=job.name, unit="epoch", leave=False, dynamic_ncols=True)

    def _train_epoch(self, net: nn.Module, optimizer, ds: SampleDataset, job: Job, epoch: int,
                     device: torch.device) -> dict:
        s = job.settings
        net.train()
        loader = make_loader(ds, batch_size=s.batch_size, train=True, seed=job.seed, epoch=epoch, workers=s.workers,
                             rank=self.dist.rank, world_size=self.dist.world_size,
                             pin_memory=device.type == "cuda")
        total, n = 0.0, 0
        ys, ps = [], []
        amp = s.amp and device.type == "cuda"
        for x, y, _ in loader:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                out = net(x)
                loss = nn.functional.cross_entropy(out.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if s.clip and s.clip > 0:
                torch.nn.utils.clip_grad_norm_(net.parameters(), s.clip)
            optimizer.step()
            total += float(loss.detach()) * len(y)
            n += len(y)
            ys.append(y.cpu().numpy())
            ps.append(out.detach().argmax(1).cpu().numpy())
        if n == 0:
            raise MiexError(f"{job.name}: the training loader produced no batch")
        m = scores(np.concatenate(ys), np.concatenate(ps))
        return {"loss": total / n, **m}

    def _tensorboard(self, job: Job, row: dict, logits: np.ndarray | None, labels: np.ndarray,
                     roles: np.ndarray | None) -> None:
        if not (self.tensorboard and self.dist.is_main):
            return
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except Exception:  # noqa: BLE001 - tensorboard is optional
                self.tensorboard = False
                return
            self._writer = SummaryWriter(str(self.run_dir / "tensorboard"))
        step = int(row["epoch"])
        for key in ("loss", "uf1", "uar", "acc", "lr"):
            self._writer.add_scalar(f"{job.name}/train/{key}", row[key], step)
        if logits is not None and roles is not None:
            for role in ("val", "test", "eval"):
                mask = roles == role
                if mask.any():
                    m = scores(labels[mask], logits[mask].argmax(1))
                    for key, value in m.items():
                        self._writer.add_scalar(f"{job.name}/{role}/{key}", value, step)
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


@torch.no_grad()
def predict(net: nn.Module, ds: SampleDataset, batch_size: int, device: torch.device, *, amp: bool = False,
            workers: int = 0) -> np.ndarray:
    """Logits (n, C) float32 of every sample of ``ds`` (evaluation mode)."""
    net.eval()
    loader = make_loader(ds, batch_size=batch_size, train=False, workers=workers, pin_memory=device.type == "cuda")
    out = []
    use_amp = amp and device.type == "cuda"
    for x, _, _ in loader:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            out.append(net(x.to(device)).float().cpu().numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)


def _bar_postfix(row: dict, logits: np.ndarray | None, labels: np.ndarray, val_mask: np.ndarray | None) -> dict:
    """Training loss, and the validation UF1 when the job has validation rows."""
    out = {"loss": f"{row['loss']:.3f}"}
    if logits is not None and val_mask is not None and val_mask.any():
        out["val_uf1"] = f"{scores(labels[val_mask], logits[val_mask].argmax(1))['uf1']:.3f}"
    return out


def _keys(rows: pd.DataFrame | None) -> list[str]:
    if rows is None:
        return []
    return [f"{s}/{c}" for s, c in zip(rows["subject"].astype(str), rows["clip"].astype(str))]


def _num_classes(model: nn.Module) -> int:
    return int(getattr(unwrap(model), "num_classes", 0) or 0)


def _result(name: str, state: dict) -> JobResult:
    logits = [x.numpy() for x in state.get("logits", [])]
    stacked = np.stack(logits).astype(np.float32) if logits else np.zeros((0, 0, 0), np.float32)
    return JobResult(name, stacked, list(state.get("history", [])), int(state["epoch"]))
