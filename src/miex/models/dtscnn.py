"""DTSCNN (Peng et al., Frontiers in Psychology 2017): dual temporal scale 3D CNN on clips."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from miex.errors import MiexError
from miex.models.base import MiexModel, check_size, check_width
from miex.models.registry import register_model
from miex.models.spec import InputSpec


def _block(cin: int, cout: int, pool: tuple[int, int, int] | None) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv3d(cin, cout, kernel_size=3, padding=1, bias=False), nn.BatchNorm3d(cout),
                               nn.ReLU(inplace=True)]
    if pool is not None:
        layers.append(nn.MaxPool3d(kernel_size=pool, stride=pool, ceil_mode=True))
    return layers


class TemporalStream(nn.Module):
    """One shallow 3D-CNN stream that first resamples the clip to ``frames`` frames."""

    def __init__(self, in_chans: int, frames: int, width: int) -> None:
        super().__init__()
        self.frames = int(frames)
        w = width
        self.body = nn.Sequential(
            *_block(in_chans, w, (1, 2, 2)),
            *_block(w, 2 * w, (2, 2, 2)),
            *_block(2 * w, 4 * w, (2, 2, 2)),
            *_block(4 * w, 4 * w, None),
            nn.AdaptiveAvgPool3d(1),
        )
        self.out_features = 4 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, h, w = x.shape[-3:]
        if t != self.frames:
            x = F.interpolate(x, size=(self.frames, h, w), mode="trilinear", align_corners=True)
        return torch.flatten(self.body(x), 1)


@register_model("dtscnn")
class DTSCNN(MiexModel):
    """Two independent shallow 3D-CNN streams at two temporal scales, fused by concatenation.

    The paper normalises every clip to 64 and 128 frames (temporal interpolation) and feeds
    one stream each; here ``frames`` sets both lengths (default (8, 16) for CPU runs; pass
    ``frames=(64, 128)`` for the paper's scales). A clip of any length T is resampled linearly
    in time to each stream's length. Each stream: 4 x [Conv3d 3x3x3 -> BN -> ReLU] with max
    pooling after the first three (space only, then space-time twice), global average pooling.
    The two feature vectors are concatenated -> Dropout -> Linear -> classes.

    The paper fed optical-flow sequences: ``in_chans`` = 2 takes them (input kind
    ``"flow_sequence"``, channels (u, v): the flow between consecutive frames of the clip
    after TIM resampling to ``max(frames)`` frames, min-max scaled over the clip, see
    :func:`miex.features.flow_sequence`); ``in_chans`` = 3 (the default, kept for existing
    configs) takes RGB clips (the "video" kind, (B, 3, T, H, W), normalised with mean/std 0.5).
    Layer widths are miex's choice (``width`` = first-layer channels); the paper's structure
    (two unshared shallow 3D streams at two temporal scales, concatenated) is kept.
    """

    min_size = 8

    def __init__(
        self,
        num_classes: int = 3,
        image_size: int = 48,
        frames: Sequence[int] = (8, 16),
        in_chans: int = 3,
        width: int = 16,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        frames = tuple(int(f) for f in frames)
        if len(frames) != 2 or min(frames) < 1:
            raise MiexError(f"dtscnn: frames must be two positive lengths, e.g. (64, 128), got {frames}")
        image_size = check_size("dtscnn", image_size, 8)
        width = check_width("dtscnn", width)
        self.num_classes = int(num_classes)
        self.frames = frames
        if in_chans == 3:
            self.input_spec = InputSpec("video", image_size, frames=max(frames))
        elif in_chans == 2:
            self.input_spec = InputSpec("flow_sequence", image_size, channels=2, channel_names=("u", "v"),
                                        frames=max(frames), mean=None, std=None,
                                        options=(("ref", "previous"), ("resample", "tim")))
        else:
            raise MiexError(f"dtscnn: in_chans must be 3 (RGB clips) or 2 (optical-flow sequences), got {in_chans}")
        self.short_stream = TemporalStream(in_chans, frames[0], width)
        self.long_stream = TemporalStream(in_chans, frames[1], width)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.short_stream.out_features + self.long_stream.out_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        f = torch.cat([self.short_stream(x), self.long_stream(x)], dim=1)
        return self.fc(self.dropout(f))
