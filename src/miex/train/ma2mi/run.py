"""``pretrain_ma2mi(config, out)``: the MA2MI pre-training run, resumable, DDP/bf16 on CUDA.

Run folder ``RUN/``:

- ``config.toml``: the config as resolved; ``clips.csv``: the clips used (key, kind, source,
  n_frames, crops = the crop cache file); ``skips.csv``: the skipped clips and why;
- ``loss.csv``: one row per epoch (``epoch, loss, latent_loss, pixel_loss, target_std, copy_loss,
  lr, ema, pairs, seconds, pairs_per_s, data_share``; ``target_std`` is the spread of the
  normalised target over a batch (near 0 = collapse); ``copy_loss`` is the loss of the baseline
  that predicts the target of frame t itself (nothing moves), so ``latent_loss < copy_loss`` means
  the predictor extrapolates the motion; ``data_share`` is the fraction of the epoch spent
  waiting for batches); ``steps.csv``: the loss of every step; ``learning_curve.png``;
- ``checkpoints/resume.pt``: everything needed to continue (online and target networks,
  optimiser, step, history), written atomically every ``checkpoint_every`` epochs and at the
  end; a re-run of the same command continues after the last saved epoch and gives the same
  result as an uninterrupted run (CPU);
- ``checkpoints/last.pt``: the encoders after the last saved epoch, as a partial init file for a
  MIACNet recognition run (``[model] init_weights``): ``{"model": {"position_encoder.*",
  "action_encoder.*"}, "init_modules": [...], "miex_config": {"name": "miacnet", "image_size",
  "width"}, "ma2mi": {...}}`` (see :func:`miex.models.weights.check_init_weights`);
- ``predictions.png`` (with ``pixel_decoder``): frames t, t + k and the decoded prediction.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the online network is wrapped in
``DistributedDataParallel`` (``nccl`` on CUDA, ``gloo`` on CPU), each rank takes its share of
every epoch (:func:`miex.train.ma2mi.data.epoch_order`), ``batch_size`` is per process, and only
rank 0 writes files. ``amp`` autocasts to bfloat16 on CUDA only.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from miex.errors import MiexError, SkipLog
from miex.io import write_text
from miex.train.ma2mi.config import PretrainConfig

CHECKPOINT_FORMAT = 1


@dataclass
class PretrainResult:
    out: Path
    clips: int
    skipped: int
    epochs: int
    history: pd.DataFrame
    seconds: float
    last: Path


# --------------------------------------------------------------------------- data
def clip_settings(config: PretrainConfig):
    from miex.datasets.videos import ClipSettings

    d = config["data"]
    return ClipSettings(
        size=config["model"]["size"], method=d["crop_method"], margin=d["margin"], upsample=d["upsample"],
        min_frames=max(d["min_frames"], config["ma2mi"]["k_min"] + 1), max_frames=d["max_frames"],
        stride=d["stride"],
    )


def gather_clips(config: PretrainConfig, *, progress: bool, skips: SkipLog):
    from miex.datasets.videos import collect_clips

    d = config["data"]
    return collect_clips(d["videos"], d["datasets"], clip_settings(config), cache_dir=d["cache_dir"] or None,
                         skips=skips, progress=progress)


def _worker_init(worker_id: int) -> None:  # noqa: ARG001 - DataLoader API
    """One torch thread per DataLoader worker (every draw is keyed by seed, epoch and index)."""
    torch.set_num_threads(1)


def _loader(pairs, order: list[int], config: PretrainConfig) -> torch.utils.data.DataLoader:
    workers = config["train"]["workers"]
    return torch.utils.data.DataLoader(
        pairs, batch_size=config["train"]["batch_size"], sampler=order, num_workers=workers,
        worker_init_fn=_worker_init if workers else None, persistent_workers=False, drop_last=False,
    )


# --------------------------------------------------------------------------- checkpoints
def _save(path: Path, state: dict) -> None:
    from miex.train.engine import save_checkpoint

    save_checkpoint(path, state)


def _last_file(net, config: PretrainConfig, epoch: int) -> dict[str, Any]:
    from miex.train.ma2mi.model import PRETRAINED_MODULES

    m = config["model"]
    return {
        "model": net.encoder_state(),
        "init_modules": list(PRETRAINED_MODULES),
        "miex_config": {"name": "miacnet", "image_size": m["size"], "width": m["width"]},
        "ma2mi": {"epoch": epoch, "format": CHECKPOINT_FORMAT, "config": json.dumps(config.raw, sort_keys=True)},
    }


def _resume_state(out: Path, config: PretrainConfig, overwrite: bool) -> dict | None:
    from miex.train.engine import load_checkpoint

    state = load_checkpoint(out / "checkpoints" / "resume.pt")
    if state is None or overwrite:
        return None
    saved = json.loads(state.get("content", "{}"))
    if saved != json.loads(json.dumps(config.content(), sort_keys=True)):
        raise MiexError(f"{out}: holds a pre-training run with another config; use another --out or --overwrite")
    return state


# --------------------------------------------------------------------------- plots
def plot_curve(history: pd.DataFrame, steps: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from miex.io import atomic_path

    fig, ax = plt.subplots(figsize=(6, 3.6))
    if len(steps):
        ax.plot(steps["epoch_float"], steps["loss"], lw=0.6, alpha=0.5, label="step")
    ax.plot(history["epoch"], history["loss"], "o-", label="epoch mean")
    if "copy_loss" in history:
        ax.plot(history["epoch"], history["copy_loss"], "s--", label="copy-frame-t baseline")
    ax.set_xlabel("epoch")
    ax.set_ylabel("latent prediction loss (MSE)")
    ax.set_title("MA2MI-style pre-training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def plot_predictions(net, pairs, device: torch.device, path: Path, n: int = 6) -> None:
    """frames t, t + k and the decoded prediction of ``n`` samples (pixel decoder only)."""
    import cv2

    from miex.io import atomic_path

    idx = np.linspace(0, len(pairs) - 1, num=min(n, len(pairs))).astype(int)
    batch = [pairs[int(i)] for i in idx]
    f0, ft, fk = (torch.stack([b[j] for b in batch]).to(device) for j in range(3))
    k = torch.tensor([b[3] for b in batch], device=device)
    net.eval()
    with torch.no_grad():
        _, image = net.online(f0, ft, k)
    net.train()

    def rgb(x: torch.Tensor) -> np.ndarray:
        return ((x.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()

    rows = [np.concatenate(list(r), axis=1) for r in (rgb(ft), rgb(fk), rgb(image))]
    with atomic_path(path) as tmp:
        cv2.imwrite(str(tmp), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


# --------------------------------------------------------------------------- training
def _step(net, ddp, batch, device, config: PretrainConfig, amp: bool) -> tuple[torch.Tensor, dict[str, float]]:
    f0, ft, fk, k = (b.to(device, non_blocking=True) for b in batch)
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp):  # bf16 on CUDA only
        pred, image = ddp(f0, ft, k)
        target = net.target_of(fk)  # float32 after the channel LayerNorm
        now = net.target_of(ft)
    latent = F.mse_loss(pred.float(), target)
    loss = latent
    pixel = torch.zeros((), device=device)
    if image is not None:
        pixel = F.l1_loss(image.float(), fk)
        loss = loss + pixel
    std = target.std(dim=0).mean() if target.shape[0] > 1 else torch.zeros((), device=device)
    copy = F.mse_loss(now, target)  # baseline: "nothing moves after frame t"
    return loss, {"latent_loss": float(latent.detach()), "pixel_loss": float(pixel.detach()),
                  "target_std": float(std.detach()), "copy_loss": float(copy)}


def _clip_groups(online) -> list[list[torch.nn.Parameter]]:
    main = [p for n, p in online.named_parameters() if not n.startswith("decoder.")]
    decoder = [p for n, p in online.named_parameters() if n.startswith("decoder.")]
    return [main, decoder] if decoder else [main]


def _epoch(net, ddp, optimizer, loader, device, config: PretrainConfig, epoch: int, step: int, total: int,
           progress: bool, steps_log: list) -> tuple[dict[str, float], int]:
    from tqdm import tqdm

    from miex.train.ma2mi.model import ema_momentum, lr_at

    t_cfg, amp = config["train"], bool(config["train"]["amp"]) and device.type == "cuda"
    sums = {"loss": 0.0, "latent_loss": 0.0, "pixel_loss": 0.0, "target_std": 0.0, "copy_loss": 0.0}
    n_batches, n_pairs, waited, lr, momentum = 0, 0, 0.0, t_cfg["lr"], config["ma2mi"]["ema"]
    start = time.perf_counter()
    ready = start
    for batch in tqdm(loader, desc=f"ma2mi epoch {epoch + 1}", unit="batch", leave=False,
                      disable=None if progress else True):
        waited += time.perf_counter() - ready
        lr = lr_at(t_cfg["lr"], step, total, t_cfg["min_lr_ratio"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss, parts = _step(net, ddp, batch, device, config, amp)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if t_cfg["clip"] > 0:  # the decoder apart, so that it cannot change the encoders' updates
            for group in _clip_groups(net.online):
                torch.nn.utils.clip_grad_norm_(group, t_cfg["clip"])
        optimizer.step()
        momentum = ema_momentum(config["ma2mi"]["ema"], step, total)
        net.update_target(momentum)
        step += 1
        n_batches += 1
        n_pairs += int(batch[0].shape[0])
        value = float(loss.detach())
        sums["loss"] += value
        for key, v in parts.items():
            sums[key] += v
        steps_log.append({"step": step, "epoch": epoch + 1, "epoch_float": epoch + n_batches / max(len(loader), 1),
                          "loss": value, **parts, "lr": lr})
        ready = time.perf_counter()
    seconds = time.perf_counter() - start
    row = {"epoch": epoch + 1, **{k: v / max(n_batches, 1) for k, v in sums.items()}, "lr": lr, "ema": momentum,
           "pairs": n_pairs, "seconds": seconds, "pairs_per_s": n_pairs / max(seconds, 1e-9),
           "data_share": waited / max(seconds, 1e-9)}
    return row, step


def _reduce_row(row: dict[str, float], device: torch.device, world: int) -> None:
    """Under DDP: the epoch means over all ranks, the pairs summed (in place)."""
    import torch.distributed as dist

    keys = ["loss", "latent_loss", "pixel_loss", "target_std", "copy_loss"]
    values = torch.tensor([row[k] for k in keys] + [row["pairs"]], dtype=torch.float64, device=device)
    dist.all_reduce(values)
    for i, key in enumerate(keys):
        row[key] = float(values[i]) / world
    row["pairs"] = int(values[-1])
    row["pairs_per_s"] = row["pairs"] / max(row["seconds"], 1e-9)


def _write_logs(out: Path, history: list[dict], steps: list[dict]) -> None:
    hist, st = pd.DataFrame(history), pd.DataFrame(steps)
    write_text(out / "loss.csv", hist.to_csv(index=False))
    write_text(out / "steps.csv", st.to_csv(index=False))
    plot_curve(hist, st, out / "learning_curve.png")


def _write_inputs(out: Path, config: PretrainConfig, clips, skips: SkipLog) -> None:
    write_text(out / "config.toml", config.to_toml())
    rows = [{"key": c.key, "kind": c.kind, "source": c.source, "n_frames": c.n_frames, "crops": c.crops} for c in clips]
    table = pd.DataFrame(rows, columns=["key", "kind", "source", "n_frames", "crops"])
    write_text(out / "clips.csv", table.to_csv(index=False))
    write_text(out / "skips.csv", pd.DataFrame(skips.items, columns=["path", "reason"]).to_csv(index=False))


def pretrain_ma2mi(config: PretrainConfig, out: str | os.PathLike[str], *, overwrite: bool = False,
                   progress: bool = True, quiet: bool = False) -> PretrainResult:
    """Pre-train MIACNet's encoders on the config's clips into ``out`` (see the module docstring)."""
    from miex.train.engine import deterministic, init_distributed, resolve_device
    from miex.train.ma2mi.data import PairSet, epoch_order
    from miex.train.ma2mi.model import build

    out = Path(out)
    t_cfg, a_cfg, m_cfg = config["train"], config["ma2mi"], config["model"]
    pre_device = resolve_device(t_cfg["device"])
    dist_ctx = init_distributed(pre_device)
    device = resolve_device(t_cfg["device"], dist_ctx)
    began = time.perf_counter()
    skips = SkipLog(echo=not quiet and dist_ctx.is_main)
    try:
        clips = gather_clips(config, progress=progress and dist_ctx.is_main, skips=skips)
        if not quiet and dist_ctx.is_main:
            print(f"ma2mi: {len(clips)} clip(s), {sum(c.n_frames for c in clips)} frames; {skips.summary()}")
        resume = _resume_state(out, config, overwrite)
        if dist_ctx.is_main:
            out.mkdir(parents=True, exist_ok=True)
            _write_inputs(out, config, clips, skips)
        pairs = PairSet(clips, k_min=a_cfg["k_min"], k_max=a_cfg["k_max"], pairs_per_clip=a_cfg["pairs_per_clip"],
                        hflip=a_cfg["hflip"], seed=t_cfg["seed"])
        with deterministic(device, t_cfg["threads"]):
            net = build(m_cfg["size"], m_cfg["width"], a_cfg["k_max"], predictor_width=a_cfg["predictor_width"],
                        pixel_decoder=a_cfg["pixel_decoder"], seed=t_cfg["seed"]).to(device)
            optimizer = torch.optim.AdamW(net.online.parameters(), lr=t_cfg["lr"], weight_decay=t_cfg["weight_decay"])
            history, steps_log, start_epoch, step = [], [], 0, 0
            if resume is not None:
                net.online.load_state_dict(resume["online"])
                net.target.load_state_dict(resume["target"])
                optimizer.load_state_dict(resume["optimizer"])
                history, steps_log = list(resume["history"]), list(resume["steps"])
                start_epoch, step = int(resume["epoch"]), int(resume["step"])
            ddp = net.online
            if dist_ctx.distributed:
                from torch.nn.parallel import DistributedDataParallel

                ids = [device.index] if device.type == "cuda" else None
                ddp = DistributedDataParallel(net.online, device_ids=ids)
            per_rank = len(epoch_order(len(pairs), t_cfg["seed"], 0, dist_ctx.rank, dist_ctx.world_size))
            total = t_cfg["epochs"] * -(-per_rank // t_cfg["batch_size"])
            net.train()
            for epoch in range(start_epoch, t_cfg["epochs"]):
                pairs.set_epoch(epoch)
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(t_cfg["seed"] * 1000 + epoch)
                    order = epoch_order(len(pairs), t_cfg["seed"], epoch, dist_ctx.rank, dist_ctx.world_size)
                    row, step = _epoch(net, ddp, optimizer, _loader(pairs, order, config), device, config, epoch,
                                       step, total, progress and dist_ctx.is_main, steps_log)
                if dist_ctx.distributed:
                    _reduce_row(row, device, dist_ctx.world_size)
                history.append(row)
                done = epoch + 1 == t_cfg["epochs"]
                if dist_ctx.is_main and (done or (epoch + 1) % t_cfg["checkpoint_every"] == 0):
                    _save(out / "checkpoints" / "resume.pt", {
                        "format": CHECKPOINT_FORMAT, "epoch": epoch + 1, "step": step,
                        "online": net.online.state_dict(), "target": net.target.state_dict(),
                        "optimizer": optimizer.state_dict(), "history": history, "steps": steps_log,
                        "content": json.dumps(config.content(), sort_keys=True),
                    })
                    _save(out / "checkpoints" / "last.pt", _last_file(net, config, epoch + 1))
                    _write_logs(out, history, steps_log)
                if not quiet and dist_ctx.is_main:
                    print(f"ma2mi epoch {epoch + 1}/{t_cfg['epochs']}: loss {row['loss']:.4f} "
                          f"(copy baseline {row['copy_loss']:.4f}) "
                          f"target_std {row['target_std']:.3f} {row['pairs_per_s']:.1f} pairs/s")
            dist_ctx.barrier()
            if dist_ctx.is_main and a_cfg["pixel_decoder"]:
                plot_predictions(net, pairs, device, out / "predictions.png")
    finally:
        dist_ctx.close()
    return PretrainResult(out, len(clips), len(skips), t_cfg["epochs"], pd.DataFrame(history),
                          time.perf_counter() - began, out / "checkpoints" / "last.pt")


__all__ = ["PretrainResult", "clip_settings", "gather_clips", "plot_curve", "pretrain_ma2mi"]
