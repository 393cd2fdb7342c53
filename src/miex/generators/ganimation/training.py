"""Training GANimation: ``miex generator train`` (and :func:`train` from Python).

The recipe of the public code (Pumarola et al., ECCV 2018; ``ganimation_replicate`` defaults):

- critic loss ``-D(real) + D(fake) + lambda_au * MSE(D_au(real), z_real) + lambda_gp * GP``;
- generator loss ``-D(fake) + lambda_au * MSE(D_au(fake), z_target) + lambda_cycle * L1(cycle, real)
  + lambda_attention * (mean A1 + mean A2) + lambda_smooth * (TV A1 + TV A2)``
  with weights 10 (GP), 160 (AU), 10 (cycle), 0.1 (attention), 1e-5 (smoothness);
- one generator step per ``critic_steps`` (5) critic steps; Adam, lr 1e-4, betas (0.5, 0.999);
- ``epochs_constant`` (20) epochs at the initial rate, then ``epochs_decay`` (10) epochs with a
  linearly falling rate (epoch ``C + d`` of ``D`` runs at ``lr * (1 - d / (D + 1))``);
- batch 25; target AUs are those of another training image (never the sample's own), plus
  uniform noise of +-``target_noise`` (0.1, both public codes), clipped to [0, 1];
  random horizontal flips.

Everything random comes from ``miex.seeding.rng(seed, ...)`` keyed by (epoch, step), so a
resumed run continues exactly as an uninterrupted one would. Outputs in ``out``:
``checkpoints/{epoch}_net_gen.pth`` and ``{epoch}_net_dis.pth`` (the ``ganimation_replicate``
layout, loadable by ``--weights``), ``resume.pt`` (optimisers and counters; written atomically
every epoch and every ``save_every`` steps), ``losses.csv`` and ``samples/epoch_NNN.png``
(faces x single-AU edits). On CUDA the forward passes run under bf16 autocast.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from miex.au.space import N_AUS
from miex.errors import MiexError
from miex.generators.ganimation import distributed as ddp
from miex.generators.ganimation.checkpoints import save_network
from miex.generators.ganimation.losses import au_regression, gradient_penalty, smoothness, wgan_critic
from miex.generators.ganimation.networks import GANimationCritic, GANimationNet, compose, init_weights
from miex.seeding import rng

LOSS_COLUMNS = ("d_real", "d_fake", "d_gp", "d_au", "g_fake", "g_au", "g_cycle", "g_attention", "g_smooth")
#: Fields that must match when a run folder is resumed.
SHAPE_FIELDS = ("size", "ngf", "n_blocks", "ndf", "critic_layers", "batch_size", "seed", "critic_steps")


@dataclass
class TrainConfig:
    out: str
    size: int = 128
    ngf: int = 64
    n_blocks: int = 6
    ndf: int = 64
    critic_layers: int = 6
    batch_size: int = 25
    epochs_constant: int = 20
    epochs_decay: int = 10
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    critic_steps: int = 5
    lambda_gp: float = 10.0
    lambda_au: float = 160.0
    lambda_cycle: float = 10.0
    lambda_attention: float = 0.1
    lambda_smooth: float = 1e-5
    target_noise: float = 0.1
    flip: bool = True
    seed: int = 0
    device: str = "auto"
    log_every: int = 10
    save_every: int = 0
    max_steps: int = 0
    sample_faces: int = 4
    sample_aus: tuple[str, ...] = ("AU01", "AU04", "AU06", "AU12", "AU15", "AU20", "AU25", "AU26")
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sample_aus = tuple(self.sample_aus)
        self.check()

    def check(self) -> None:
        if self.size % 2**self.critic_layers or self.size // 2**self.critic_layers < 1:
            raise MiexError(f"--size {self.size} must be a multiple of 2**--critic-layers ({2**self.critic_layers})")
        if self.size % 4:
            raise MiexError(f"--size must be a multiple of 4, got {self.size}")
        for name in ("ngf", "ndf", "batch_size", "critic_steps", "critic_layers", "log_every"):
            if getattr(self, name) < 1:
                raise MiexError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.n_blocks < 0 or self.epochs_constant < 0 or self.epochs_decay < 0 or self.epochs < 1:
            raise MiexError("need n_blocks >= 0 and at least one epoch (--epochs-constant + --epochs-decay)")
        if not self.lr > 0:
            raise MiexError(f"--lr must be positive, got {self.lr}")

    @property
    def epochs(self) -> int:
        return self.epochs_constant + self.epochs_decay

    def lr_at(self, epoch: int) -> float:
        """The learning rate of 0-based ``epoch``: constant, then linear decay."""
        if epoch < self.epochs_constant:
            return self.lr
        done = epoch - self.epochs_constant + 1
        return self.lr * max(0.0, 1.0 - done / (self.epochs_decay + 1))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["sample_aus"] = list(self.sample_aus)
        return data


@dataclass
class TrainingSet:
    """Aligned face crops (N, S, S, 3) uint8 in the generator framing and their AUs (N, 17) in [0, 1]."""

    images: Any
    aus: np.ndarray
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.aus = np.asarray(self.aus, dtype=np.float32)
        if len(self.images) != len(self.aus) or self.aus.shape[1:] != (N_AUS,):
            raise MiexError(f"training set: {len(self.images)} images but AU table of shape {self.aus.shape}")
        if len(self.images) < 2:
            raise MiexError(f"training set: need at least 2 usable images, got {len(self.images)}")

    def __len__(self) -> int:
        return len(self.aus)


@dataclass
class Batch:
    images: torch.Tensor      # (B, 3, S, S) in [-1, 1]
    source_aus: torch.Tensor  # (B, 17)
    target_aus: torch.Tensor  # (B, 17)
    alpha: torch.Tensor       # (B, 1, 1, 1) gradient-penalty mixing weights


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, S, S, 3) uint8 -> (B, 3, S, S) float in [-1, 1]."""
    return torch.from_numpy(np.array(images, dtype=np.uint8)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


class Trainer:
    """Networks, optimisers and the two update steps of one process."""

    def __init__(self, config: TrainConfig, info: ddp.DistInfo) -> None:
        self.config, self.info, self.device = config, info, info.device
        with torch.random.fork_rng(devices=[]):  # seeded initialisation; the global state is left alone
            torch.manual_seed(config.seed)
            self.generator = GANimationNet(config.ngf, config.n_blocks, N_AUS)
            self.critic = GANimationCritic(config.size, config.ndf, config.critic_layers, N_AUS)
            init_weights(self.generator)
            init_weights(self.critic)
        self.generator.to(self.device).train()
        self.critic.to(self.device).train()
        ddp.broadcast_parameters(self.generator, info)
        ddp.broadcast_parameters(self.critic, info)
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=config.lr, betas=betas)

    def autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def set_lr(self, lr: float) -> None:
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr

    def critic_step(self, batch: Batch) -> dict[str, float]:
        c = self.config
        real = batch.images
        with torch.no_grad(), self.autocast():
            fake = self.generator.edit(real, batch.target_aus).float()
        with self.autocast():
            real_scores, real_aus = self.critic(real)
            fake_scores, _ = self.critic(fake)
            d_real, d_fake = wgan_critic(real_scores, fake_scores)
            d_au = au_regression(real_aus, batch.source_aus)
            d_gp = gradient_penalty(self.critic, real, fake, batch.alpha)
        loss = d_real + d_fake + c.lambda_au * d_au + c.lambda_gp * d_gp
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        ddp.average_gradients(self.critic, self.info)
        self.opt_d.step()
        return _floats(d_real=d_real, d_fake=d_fake, d_gp=d_gp, d_au=d_au)

    def generator_step(self, batch: Batch) -> dict[str, float]:
        c = self.config
        real = batch.images
        self.critic.requires_grad_(False)
        try:
            with self.autocast():
                color, attention = self.generator(real, batch.target_aus)
                fake = compose(real, color.float(), attention.float())
                scores, fake_aus = self.critic(fake)
                color2, attention2 = self.generator(fake, batch.source_aus)
                cycle = compose(fake, color2.float(), attention2.float())
            g_fake = -scores.float().mean()
            g_au = au_regression(fake_aus, batch.target_aus)
            g_cycle = torch.mean(torch.abs(cycle.float() - real))
            g_attention = attention.float().mean() + attention2.float().mean()
            g_smooth = smoothness(attention) + smoothness(attention2)
            loss = (g_fake + c.lambda_au * g_au + c.lambda_cycle * g_cycle
                    + c.lambda_attention * g_attention + c.lambda_smooth * g_smooth)
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
            ddp.average_gradients(self.generator, self.info)
            self.opt_g.step()
        finally:
            self.critic.requires_grad_(True)
        return _floats(g_fake=g_fake, g_au=g_au, g_cycle=g_cycle, g_attention=g_attention, g_smooth=g_smooth)

    def state(self) -> dict:
        return {"generator": self.generator.state_dict(), "critic": self.critic.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_state(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])


def _floats(**values: torch.Tensor) -> dict[str, float]:
    return {k: float(v.detach()) for k, v in values.items()}


# --------------------------------------------------------------------------- data order


def steps_per_epoch(n: int, config: TrainConfig, world: int) -> int:
    steps = n // (config.batch_size * world)
    if steps < 1:
        raise MiexError(f"training set of {n} images is smaller than one batch ({config.batch_size} x {world} processes)")
    return steps


def make_batch(data: TrainingSet, config: TrainConfig, epoch: int, step: int, info: ddp.DistInfo) -> Batch:
    """Batch ``step`` of ``epoch`` for this process (the same draws whatever the resume point)."""
    n, b = len(data), config.batch_size
    order = rng(config.seed, "order", epoch).permutation(n)
    start = (step * info.world + info.rank) * b
    index = np.sort(order[start:start + b])  # sorted: sequential reads from a memmapped set
    draws = rng(config.seed, "batch", epoch, step, info.rank)
    others = (index + 1 + draws.integers(0, n - 1, size=len(index))) % n  # another image, never itself
    target = data.aus[others] + draws.uniform(-config.target_noise, config.target_noise, (len(index), N_AUS))
    images = np.asarray(data.images[index])
    if config.flip:
        flip = draws.random(len(index)) < 0.5
        images = np.where(flip[:, None, None, None], images[:, :, ::-1], images)
    alpha = draws.random((len(index), 1, 1, 1))
    dev = info.device
    return Batch(
        images=to_tensor(images).to(dev),
        source_aus=torch.from_numpy(data.aus[index]).float().to(dev),
        target_aus=torch.from_numpy(np.clip(target, 0.0, 1.0)).float().to(dev),
        alpha=torch.from_numpy(alpha).float().to(dev),
    )


# --------------------------------------------------------------------------- the run


class RunFolder:
    """Paths and (rank-0) writers of one training run."""

    def __init__(self, out: str | Path) -> None:
        self.root = Path(out)
        self.checkpoints = self.root / "checkpoints"
        self.samples = self.root / "samples"
        self.resume = self.root / "resume.pt"
        self.losses = self.root / "losses.csv"
        self.config = self.root / "config.json"

    def generator_path(self, epoch: int) -> Path:
        return self.checkpoints / f"{epoch}_net_gen.pth"

    def critic_path(self, epoch: int) -> Path:
        return self.checkpoints / f"{epoch}_net_dis.pth"


def read_resume(run: RunFolder, config: TrainConfig) -> dict | None:
    if not run.resume.exists():
        return None
    try:
        state = torch.load(run.resume, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise MiexError(f"{run.resume}: unreadable resume state ({str(exc)[:120]}); delete it to start again") from None
    old = state.get("config", {})
    diffs = [k for k in SHAPE_FIELDS if old.get(k) != getattr(config, k)]
    if diffs:
        shown = ", ".join(f"{k}: {old.get(k)!r} -> {getattr(config, k)!r}" for k in diffs)
        raise MiexError(f"{run.root} holds a run with another configuration ({shown}); use another --out")
    return state


def write_resume(run: RunFolder, trainer: Trainer, config: TrainConfig, epoch: int, step: int, global_step: int) -> None:
    from miex.io import atomic_path

    state = trainer.state()
    state.update(config=config.to_dict(), epoch=epoch, step=step, global_step=global_step)
    with atomic_path(run.resume) as tmp:
        torch.save(state, tmp)


def write_losses(run: RunFolder, rows: list[dict]) -> None:
    import pandas as pd

    from miex.io import write_text

    columns = ["epoch", "step", "lr", *LOSS_COLUMNS]
    write_text(run.losses, pd.DataFrame(rows, columns=columns).to_csv(index=False, float_format="%.6g"))


def read_losses(run: RunFolder, up_to: int) -> list[dict]:
    if not run.losses.exists():
        return []
    import pandas as pd

    table = pd.read_csv(run.losses)
    return table[table["step"] <= up_to].to_dict("records")


class LossMeter:
    """Running means of the losses between two log rows."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1

    def row(self) -> dict[str, float]:
        out = {k: self.sums[k] / self.counts[k] for k in self.sums}
        self.sums, self.counts = {}, {}
        return out


def train(config: TrainConfig, data: TrainingSet, *, progress: bool = True,
          on_epoch: Callable[[int, Trainer], None] | None = None) -> Path:
    """Train (or resume) in ``config.out``; returns the last generator checkpoint."""
    from tqdm import tqdm

    from miex.generators.ganimation.backend import resolve_device
    from miex.io import write_json

    info = ddp.init(resolve_device(config.device))
    run = RunFolder(config.out)
    try:
        trainer = Trainer(config, info)
        state = read_resume(run, config)
        epoch, step, global_step = 0, 0, 0
        if state is not None:
            trainer.load_state(state)
            epoch, step, global_step = int(state["epoch"]), int(state["step"]), int(state["global_step"])
        rows = read_losses(run, global_step) if info.main else []
        if info.main:
            write_json(run.config, config.to_dict())
        per_epoch = steps_per_epoch(len(data), config, info.world)
        meter = LossMeter()
        last = run.generator_path(epoch) if epoch else None
        while epoch < config.epochs:
            trainer.set_lr(config.lr_at(epoch))
            bar = tqdm(total=per_epoch, initial=step, desc=f"epoch {epoch + 1}/{config.epochs}", unit="step",
                       disable=not (progress and info.main), leave=False)
            while step < per_epoch:
                if config.max_steps and global_step >= config.max_steps:
                    break
                batch = make_batch(data, config, epoch, step, info)
                meter.add(trainer.critic_step(batch))
                if global_step % config.critic_steps == 0:
                    meter.add(trainer.generator_step(batch))
                step += 1
                global_step += 1
                bar.update(1)
                if global_step % config.log_every == 0:
                    rows.append({"epoch": epoch + 1, "step": global_step, "lr": config.lr_at(epoch), **meter.row()})
                    bar.set_postfix(d=f"{rows[-1].get('d_real', 0) + rows[-1].get('d_fake', 0):.2f}",
                                    g_au=f"{rows[-1].get('g_au', math.nan):.3f}")
                if config.save_every and global_step % config.save_every == 0 and info.main:
                    write_resume(run, trainer, config, epoch, step, global_step)
                    write_losses(run, rows)
            bar.close()
            if step < per_epoch:  # stopped by max_steps
                break
            epoch, step = epoch + 1, 0
            if info.main:
                last = finish_epoch(run, trainer, config, data, epoch, global_step, rows)
                if on_epoch is not None:
                    on_epoch(epoch, trainer)
            ddp.barrier(info)
        if info.main:
            write_resume(run, trainer, config, epoch, step, global_step)
            write_losses(run, rows)
            if last is None or step:
                last = save_network(trainer.generator, run.checkpoints / "latest_net_gen.pth")
                save_network(trainer.critic, run.checkpoints / "latest_net_dis.pth")
        return last if last is not None else run.checkpoints / "latest_net_gen.pth"
    finally:
        ddp.shutdown(info)


def finish_epoch(run: RunFolder, trainer: Trainer, config: TrainConfig, data: TrainingSet, epoch: int,
                 global_step: int, rows: list[dict]) -> Path:
    """Checkpoints in the replicate layout, the resume state, the loss CSV and the sample grid."""
    from miex.generators.ganimation.samples import sample_grid, write_png

    gen_path = save_network(trainer.generator, run.generator_path(epoch))
    save_network(trainer.critic, run.critic_path(epoch))
    write_resume(run, trainer, config, epoch, 0, global_step)
    write_losses(run, rows)
    pick = np.unique(np.linspace(0, len(data) - 1, min(config.sample_faces, len(data))).round().astype(int))
    faces = np.asarray(data.images[pick])
    grid = sample_grid(trainer.generator, faces, data.aus[pick], config.sample_aus, trainer.device)
    write_png(run.samples / f"epoch_{epoch:03d}.png", grid)
    return gen_path


def edit_images(net: GANimationNet, images: np.ndarray, aus: np.ndarray | Sequence, device: torch.device | str = "cpu",
                batch_size: int = 32) -> np.ndarray:
    """(N, S, S, 3) uint8 faces edited to AU vectors (N, 17): (N, S, S, 3) uint8 (eval mode, float32)."""
    was_training = net.training
    net.eval()
    out = []
    aus = np.asarray(aus, dtype=np.float32)
    try:
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                x = to_tensor(np.asarray(images[start:start + batch_size])).to(device)
                z = torch.from_numpy(aus[start:start + batch_size]).to(device)
                y = net.edit(x, z).add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
                out.append(y.permute(0, 2, 3, 1).cpu().numpy())
    finally:
        net.train(was_training)
    return np.concatenate(out, axis=0)
