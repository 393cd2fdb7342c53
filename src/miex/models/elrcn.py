"""ELRCN (Khor, See, Phan & Lin, "Enriched Long-term Recurrent Convolutional Network for Facial
Micro-Expression Recognition", IEEE FG 2018): a CNN encodes every frame, an LSTM reads the
sequence of frame features.

The paper enriches the input in two ways, both available with ``variant``:

- ``"se"`` (spatial enrichment, input channel stacking): per frame, the grayscale frame, the
  optical flow (u, v) and the optical strain from the onset are stacked into one 4-channel
  image and fed to one encoder;
- ``"te"`` (temporal enrichment, deep feature stacking): one encoder per input type (the
  grayscale frame; the flow u, v; the strain), their features concatenated per frame before
  the LSTM.

What miex chose where the paper is open or unavailable offline: the paper's encoder is an
ImageNet/VGG-Face-pretrained VGG-16; miex uses a ResNet-18 trunk (``width``; no download), so
an encoder sees ``image_size`` inputs (paper: 224). One LSTM layer with ``hidden`` units reads
the per-frame features; its last output -> Dropout -> Linear -> classes. Clips are
TIM-resampled to ``frames`` frames (input kind ``"flow_sequence"``, channels min-max scaled
over the clip).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from miex.errors import MiexError
from miex.models.base import MiexModel, check_size, check_width
from miex.models.registry import register_model
from miex.models.resnet import ResNet18
from miex.models.spec import InputSpec

CHANNELS = ("gray", "u", "v", "strain")
#: Input types of the temporal-enrichment variant (one encoder each), as channel indices.
TE_GROUPS = ((0,), (1, 2), (3,))


@register_model("elrcn")
class ELRCN(MiexModel):
    """Per-frame ResNet-18 encoder(s) + LSTM. Input kind ``"flow_sequence"`` (B, 4, T, S, S)."""

    def __init__(
        self,
        num_classes: int = 3,
        image_size: int = 224,
        frames: int = 10,
        variant: str = "se",
        width: int = 64,
        hidden: int = 512,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if variant not in ("se", "te"):
            raise MiexError(f"elrcn: variant must be 'se' (spatial enrichment) or 'te' (temporal), got {variant!r}")
        image_size = check_size("elrcn", image_size, 32)
        width = check_width("elrcn", width)
        if int(frames) < 1:
            raise MiexError(f"elrcn: frames must be positive, got {frames}")
        self.num_classes = int(num_classes)
        self.variant = variant
        self.input_spec = InputSpec("flow_sequence", image_size, channels=4, channel_names=CHANNELS,
                                    frames=int(frames), mean=None, std=None,
                                    options=(("ref", "onset"), ("resample", "tim")))
        groups: Sequence[tuple[int, ...]] = ((0, 1, 2, 3),) if variant == "se" else TE_GROUPS
        self.groups = [list(g) for g in groups]
        self.encoders = nn.ModuleList(
            ResNet18(num_classes=0, image_size=image_size, width=width, in_chans=len(g)) for g in groups
        )
        features = sum(e.num_features for e in self.encoders)
        self.lstm = nn.LSTM(features, int(hidden), batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(int(hidden), num_classes)

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> (B, T, F) per-frame encoder features."""
        b, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        feats = [enc.pool(enc.forward_features(frames[:, g])) for enc, g in zip(self.encoders, self.groups)]
        return torch.cat(feats, dim=1).reshape(b, t, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        out, _ = self.lstm(self.frame_features(x))
        return self.fc(self.dropout(out[:, -1]))
