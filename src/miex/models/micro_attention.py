"""Micro-attention ResNet (Wang, Peng, Bi & Chen, "Micro-attention for micro-expression
recognition", Neurocomputing 2020; arXiv:1811.02360, 2018) on the apex frame.

A residual network whose stages are followed by *micro-attention* units: an attention branch
that learns where the small facial movements are and rescales the stage's feature map as
``F * (1 + M)`` (the residual-attention form, so a zero mask keeps the features). The mask
branch is bottom-up / top-down: MaxPool 2 -> Conv 3x3 -> BN -> ReLU -> Conv 1x1 -> bilinear
upsampling to the stage's size -> sigmoid, one mask per channel.

What miex chose: the paper's backbone is a ResNet pre-trained on ImageNet and macro-expression
data; miex uses its ResNet-18 (``width``; ImageNet weights can be loaded with
``pretrained_backbone``) with a unit after stages 1-3 (stage 4 is 7x7 at 224 px, too coarse
for a local mask), global average pooling and one linear layer. Input kind ``"apex"``
(B, 3, H, W), RGB normalised with mean/std 0.5.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from miex.models.base import MiexModel
from miex.models.registry import register_model
from miex.models.resnet import init_trunks, load_backbone_weights


class MicroAttention(nn.Module):
    """``x * (1 + mask(x))`` with a bottom-up/top-down mask branch."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mask = nn.Sequential(
            nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = F.interpolate(self.mask(x), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return x * (1.0 + torch.sigmoid(m))


@register_model("micro_attention")
class MicroAttentionNet(MiexModel):
    """ResNet-18 trunk with micro-attention units after stages 1-3, then a linear classifier."""

    def __init__(
        self,
        num_classes: int = 3,
        image_size: int = 224,
        width: int = 64,
        dropout: float = 0.0,
        pretrained_backbone: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        (self.backbone,) = init_trunks(self, "micro_attention", "apex", num_classes, image_size, width)
        self.attention = nn.ModuleList(MicroAttention(c) for c in (width, 2 * width, 4 * width))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.backbone.num_features, num_classes)
        if pretrained_backbone is not None:
            load_backbone_weights(self, pretrained_backbone)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        t = self.backbone
        x = t.maxpool(t.relu(t.bn1(t.conv1(x))))
        x = self.attention[0](t.layer1(x))
        x = self.attention[1](t.layer2(x))
        x = self.attention[2](t.layer3(x))
        return t.layer4(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.fc(self.dropout(self.backbone.pool(self.forward_features(x))))
