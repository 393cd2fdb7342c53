"""The MA2MI-style pre-training network: MIACNet's two encoders, a predictor and an EMA target.

Li, Niu & Zhao, "From Macro to Micro: Boosting micro-expression recognition via pre-training on
macro-expression videos", 2024 (arXiv:2405.16451) pre-train MIACNet by reconstructing future
frames of macro-expression videos in latent space. What the public text verifies is the idea:
future-frame reconstruction, in latent space, with the position/action decoupling. Everything
below the idea is miex's choice (MA2MI-style), each listed here:

* **Inputs.** A sample is (first frame ``f_0``, frame ``f_t``, future frame ``f_{t+k}``) of one clip,
  all cropped with the one transform found on ``f_0``. ``k`` is drawn uniformly from
  ``[k_min, k_max]`` (clipped to the clip), ``t`` uniformly from ``[0, T - 1 - k]``.
* **Encoders** are exactly MIACNet's (:class:`miex.models.miacnet.MIACNet`): the position branch
  sees the first frame, ``P = position_encoder(f_0)``; the action branch sees the motion so far,
  ``A = action_encoder(f_t - f_0)`` -- the same two inputs MIACNet gets at recognition time
  (onset, apex - onset), so the pre-trained weights transfer unchanged.
* **Target** ``Z = LayerNorm_c(target_encoder(f_{t+k}))``: the layer4 map of the future frame by an
  EMA copy of the position encoder (BYOL / I-JEPA style: no gradient, momentum from ``ema`` up to
  1 along a cosine), normalised over channels at every location (I-JEPA).
* **Predictor** ``LayerNorm_c(P) + g([P, A], k)``: the first frame's normalised position map plus
  a residual ``g``: 1x1 conv (2C -> D) + a learned embedding of ``k`` added per channel, ReLU,
  3x3 conv (D -> D), ReLU, 1x1 conv (D -> C, zero-initialised, so training starts from "the
  future frame looks like the first one"). The residual is the *latent motion* from ``f_0`` to
  ``f_{t+k}``, which only the action branch can supply: the position branch says where and who,
  the action branch how the face moves. It predicts ``Z`` at every location of the map; the loss
  is the mean squared error. The predictor and the stop-gradient target are
  the asymmetry that keeps the online encoders from collapsing; ``target_std`` (the spread of
  ``Z`` over a batch; 0 = collapse) is logged to watch it.
* **Pixel decoder** (optional): transposed convolutions from the *detached* prediction to the
  future frame (L1), only for looking at what the predictor says; it does not train the encoders.

The recogniser's fusion (``where``) and head are not pre-trained; the file a run leaves
(``checkpoints/last.pt``) holds the two encoders under MIACNet's key names.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

#: the MIACNet modules a pre-training run initialises
PRETRAINED_MODULES = ("position_encoder", "action_encoder")


class Predictor(nn.Module):
    """``([P, A], k) -> predicted target map``, all maps (B, C, h, w)."""

    def __init__(self, channels: int, width: int, k_max: int) -> None:
        super().__init__()
        self.inp = nn.Conv2d(2 * channels, width, kernel_size=1)
        self.k_embed = nn.Embedding(k_max + 1, width)
        nn.init.normal_(self.k_embed.weight, std=0.02)
        self.mid = nn.Conv2d(width, width, kernel_size=3, padding=1)
        self.out = nn.Conv2d(width, channels, kernel_size=1)
        nn.init.zeros_(self.out.weight)  # start as "the future looks like the first frame"
        nn.init.zeros_(self.out.bias)

    def forward(self, pos: torch.Tensor, act: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        h = self.inp(torch.cat([pos, act], dim=1)) + self.k_embed(k)[:, :, None, None]
        h = F.relu(self.mid(F.relu(h)))
        return normalised_target(pos) + self.out(h)


class PixelDecoder(nn.Module):
    """A latent map (B, C, S/32, S/32) -> an image (B, 3, S, S) in the normalised input range."""

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = channels
        for _ in range(5):  # 32x upsampling, halving the channels (>= 16) at every step
            nxt = max(16, c // 2)
            layers += [nn.ConvTranspose2d(c, nxt, kernel_size=4, stride=2, padding=1), nn.ReLU(inplace=True)]
            c = nxt
        layers.append(nn.Conv2d(c, 3, kernel_size=3, padding=1))
        self.net = nn.Sequential(*layers)
        self.size = int(size)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(z)
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return torch.tanh(x)


class Online(nn.Module):
    """The trained part: MIACNet's encoders (same attribute names), the predictor, the decoder."""

    def __init__(self, encoders: tuple[nn.Module, nn.Module], predictor: Predictor,
                 decoder: PixelDecoder | None) -> None:
        super().__init__()
        self.position_encoder, self.action_encoder = encoders
        self.predictor = predictor
        self.decoder = decoder

    def forward(self, f0: torch.Tensor, ft: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        pos = self.position_encoder.forward_features(f0)
        act = self.action_encoder.forward_features(ft - f0)
        pred = self.predictor(pos, act, k)
        image = self.decoder(pred.detach()) if self.decoder is not None else None
        return pred, image


def normalised_target(fmap: torch.Tensor) -> torch.Tensor:
    """LayerNorm over channels at every location of (B, C, h, w), without learned parameters."""
    return F.layer_norm(fmap.permute(0, 2, 3, 1), fmap.shape[1:2]).permute(0, 3, 1, 2)


class MA2MI(nn.Module):
    """Online network + EMA target encoder. Build with :func:`build`."""

    def __init__(self, online: Online) -> None:
        super().__init__()
        self.online = online
        self.target = copy.deepcopy(online.position_encoder)
        for p in self.target.parameters():
            p.requires_grad_(False)

    def target_of(self, frame: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            # BatchNorm in the target uses batch statistics, like the online network (BYOL);
            # its running statistics are overwritten by the online ones at every update
            self.target.train(self.online.training)
            return normalised_target(self.target.forward_features(frame).float())

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        """``target = m * target + (1 - m) * position_encoder`` (buffers copied)."""
        src = self.online.position_encoder
        for t, s in zip(self.target.parameters(), src.parameters()):
            t.mul_(momentum).add_(s.detach(), alpha=1.0 - momentum)
        for t, s in zip(self.target.buffers(), src.buffers()):
            t.copy_(s)

    def encoder_state(self) -> dict[str, torch.Tensor]:
        """The encoders under MIACNet's key names (``position_encoder.*``, ``action_encoder.*``)."""
        out = {}
        for name in PRETRAINED_MODULES:
            for key, value in getattr(self.online, name).state_dict().items():
                if not key.startswith("fc."):
                    out[f"{name}.{key}"] = value.detach().cpu().clone()
        return out


def build(size: int, width: int, k_max: int, *, predictor_width: int = 0, pixel_decoder: bool = False,
          seed: int = 0) -> MA2MI:
    """A seeded MA2MI pre-training network whose encoders are those of
    ``miex.models.create("miacnet", image_size=size, width=width, seed=seed)``."""
    from miex.models import create

    miac = create("miacnet", num_classes=3, image_size=size, width=width, seed=seed)
    channels = miac.position_encoder.num_features
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) + 1)
        predictor = Predictor(channels, predictor_width or channels, k_max)
        decoder = PixelDecoder(channels, size) if pixel_decoder else None
    return MA2MI(Online((miac.position_encoder, miac.action_encoder), predictor, decoder))


def ema_momentum(base: float, step: int, total: int) -> float:
    """BYOL's schedule: ``1 - (1 - base) * (cos(pi * step / total) + 1) / 2``."""
    return 1.0 - (1.0 - base) * (math.cos(math.pi * min(step, total) / max(total, 1)) + 1.0) / 2.0


def lr_at(base: float, step: int, total: int, min_ratio: float) -> float:
    """Cosine decay from ``base`` to ``base * min_ratio`` over ``total`` steps."""
    frac = min(step, total) / max(total, 1)
    return base * (min_ratio + (1.0 - min_ratio) * (math.cos(math.pi * frac) + 1.0) / 2.0)


__all__ = ["MA2MI", "Online", "PRETRAINED_MODULES", "PixelDecoder", "Predictor", "build", "ema_momentum", "lr_at",
           "normalised_target"]
