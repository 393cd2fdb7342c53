"""MIACNet, MA2MI-style: a position branch (onset frame) and an action branch (motion).

MA2MI pre-trains on macro-expression videos by reconstructing future frames in latent
space, and its recogniser separates *where* an action happens (facial position features
from the onset frame) from *what* the action is (facial action features from the motion,
apex minus onset). The paper's exact layers are not public; this is the closest faithful
version miex can build from its description, documented as MA2MI-style:

* ``position_encoder``: ResNet-18 trunk on the onset frame -> map P (B, C, h, w).
* ``action_encoder``: an unshared ResNet-18 trunk on the motion ``apex - onset`` -> map A.
* fusion: P gives a spatial "where" map ``w = sigmoid(conv1x1(P))`` (B, 1, h, w); the action
  map is pooled with those weights (``sum(A * w) / sum(w)``) so the action vector describes
  the motion at the places the position branch points to; concat [mean(P), pooled A]
  -> MiEHead (2C -> 128 -> 32 -> classes).

Pre-training hook (for the MA2MI pre-training issue): ``encode(onset, motion)`` returns
(P, A); a pre-training module predicts the latent of a future frame,
``position_encoder.forward_features(frame_{t+k})``, from (P_t, A_{t->t+k}), and saves
``pretrained_state_dict()`` (keys ``position_encoder.*`` and ``action_encoder.*``) with
``torch.save``. ``load_pretrained(path)`` or ``create("miacnet", ma2mi_weights=path)``
initialises a recogniser from that file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from miex.errors import MiexError
from miex.models.base import MiexModel
from miex.models.heads import MiEHead
from miex.models.registry import register_model
from miex.models.resnet import init_trunks, load_backbone_weights
from miex.models.weights import load_checked, read_state_dict

ENCODERS = ("position_encoder", "action_encoder")


@register_model("miacnet")
class MIACNet(MiexModel):
    """MA2MI-style two-branch recogniser. Input kind ``"pair"`` (B, 2, 3, H, W): onset, apex.

    Options: ``width`` (trunk width; 64 = ResNet-18), ``pretrained_backbone`` (ImageNet
    ``.pth`` for both encoders), ``ma2mi_weights`` (a file from MA2MI pre-training, loaded
    after the ImageNet weights).
    """

    def __init__(
        self,
        num_classes: int = 3,
        image_size: int = 224,
        width: int = 64,
        dropout: float = 0.5,
        pretrained_backbone: str | os.PathLike[str] | None = None,
        ma2mi_weights: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        self.position_encoder, self.action_encoder = init_trunks(
            self, "miacnet", "pair", num_classes, image_size, width, count=2
        )
        c = self.position_encoder.num_features
        self.where = nn.Conv2d(c, 1, kernel_size=1)
        nn.init.zeros_(self.where.weight)  # start from plain average pooling of the action map
        nn.init.zeros_(self.where.bias)
        self.head = MiEHead(2 * c, num_classes, dropout=dropout)
        if pretrained_backbone is not None:
            load_backbone_weights(self, pretrained_backbone)
        if ma2mi_weights is not None:
            self.load_pretrained(ma2mi_weights)

    def encode(self, onset: torch.Tensor, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(onset frame, motion = apex - onset), each (B, 3, H, W) -> position map P, action map A."""
        return self.position_encoder.forward_features(onset), self.action_encoder.forward_features(motion)

    def fuse(self, pos: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """(P, A) -> (B, 2C): mean position features and position-weighted action features."""
        w = torch.sigmoid(self.where(pos))
        act_vec = (act * w).sum(dim=(2, 3)) / w.sum(dim=(2, 3)).clamp_min(1e-6)
        return torch.cat([pos.mean(dim=(2, 3)), act_vec], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        onset, apex = x[:, 0], x[:, 1]
        return self.head(self.fuse(*self.encode(onset, apex - onset)))

    def pretrained_state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder weights a pre-training run saves: keys ``position_encoder.*``, ``action_encoder.*``."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(tuple(f"{e}." for e in ENCODERS))}

    def load_pretrained(self, path: str | os.PathLike[str], modules: Sequence[str] = ENCODERS) -> list[str]:
        """Initialise the encoders from an MA2MI pre-training file (or any MIACNet state_dict).

        The file is a state_dict (or a checkpoint dict with ``"state_dict"``/``"model"``) whose
        keys ``position_encoder.*`` / ``action_encoder.*`` are those of this class; every other
        key (the pre-training predictor, an old head, ...) is ignored. Each encoder named in
        ``modules`` must be complete with matching shapes (same ``width``), else MiexError.
        Returns the encoders loaded.
        """
        bad = [m for m in modules if m not in ENCODERS]
        if bad or not modules:
            raise MiexError(f"load_pretrained: modules must be among {ENCODERS}, got {tuple(modules)}")
        state = read_state_dict(path)
        for name in modules:
            prefix = f"{name}."
            part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if not part:
                raise MiexError(f"{path}: holds no {prefix}* weights for MIACNet (keys start with: "
                                f"{', '.join(sorted({k.split('.')[0] for k in state})[:8])})")
            part = {k: v for k, v in part.items() if not k.startswith("fc.")}
            load_checked(getattr(self, name), part, source=path, what=f"MIACNet.{name}")
        return list(modules)
