"""ApexME: one ResNet-18 on the apex frame with the MiE-X head (design.md section 6)."""

from __future__ import annotations

import os

import torch

from miex.models.base import MiexModel
from miex.models.heads import MiEHead
from miex.models.registry import register_model
from miex.models.resnet import init_trunks, load_backbone_weights


@register_model("apexme")
class ApexME(MiexModel):
    """ResNet-18 trunk on the apex frame -> MiEHead (512 -> 128 -> 32 -> classes).

    Input kind ``"apex"`` (B, 3, H, W); a ``"pair"`` tensor (B, 2, 3, H, W) is accepted too
    and its apex (index 1) is used, so one data pipeline can feed every image model.
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
        (self.backbone,) = init_trunks(self, "apexme", "apex", num_classes, image_size, width)
        self.head = MiEHead(self.backbone.num_features, num_classes, dropout=dropout)
        if pretrained_backbone is not None:
            load_backbone_weights(self, pretrained_backbone)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 5 and x.shape[1] == 2:
            x = x[:, 1]
        self.check_input(x)
        return self.head(self.backbone.pool(self.backbone.forward_features(x)))
