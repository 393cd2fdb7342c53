"""Branches (MiE-X): two unshared ResNet-18 trunks on the onset and apex frames."""

from __future__ import annotations

import os

import torch

from miex.models.base import MiexModel
from miex.models.heads import MiEHead
from miex.models.registry import register_model
from miex.models.resnet import init_trunks, load_backbone_weights


@register_model("branches")
class Branches(MiexModel):
    """onset -> ResNet-18 (``onset_backbone``), apex -> ResNet-18 (``apex_backbone``), no shared
    weights; concat 512 + 512 -> MiEHead (1024 -> 128 -> 32 -> classes), as in the MiE-X code.

    Input kind ``"pair"``: (B, 2, 3, H, W), index 0 = onset, 1 = apex, RGB normalised with
    mean 0.5 / std 0.5. ``pretrained_backbone`` initialises both trunks from one ``.pth``.
    """

    def __init__(
        self,
        num_classes: int = 3,
        image_size: int = 224,
        width: int = 64,
        dropout: float = 0.5,
        pretrained_backbone: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        self.onset_backbone, self.apex_backbone = init_trunks(
            self, "branches", "pair", num_classes, image_size, width, count=2
        )
        self.head = MiEHead(2 * self.onset_backbone.num_features, num_classes, dropout=dropout)
        if pretrained_backbone is not None:
            load_backbone_weights(self, pretrained_backbone)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, 3, H, W) -> concatenated pooled features (B, 2 * 8 * width)."""
        on = self.onset_backbone.pool(self.onset_backbone.forward_features(x[:, 0]))
        ap = self.apex_backbone.pool(self.apex_backbone.forward_features(x[:, 1]))
        return torch.cat([on, ap], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.head(self.features(x))
