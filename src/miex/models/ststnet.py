"""STSTNet (Liong et al., FG 2019): a shallow triple-stream CNN on onset->apex flow features."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from miex.errors import MiexError
from miex.models.base import MiexModel, check_size
from miex.models.registry import register_model
from miex.models.spec import InputSpec


@register_model("ststnet")
class STSTNet(MiexModel):
    """Three parallel conv streams with 3, 5 and 8 filters, concatenated, then one FC layer.

    Each stream: Conv 3x3 (padding 2) -> ReLU -> BatchNorm -> MaxPool 3x3 stride 3 pad 1 ->
    Dropout 0.5; the 16 maps are concatenated -> AvgPool 2x2 -> flatten -> Linear -> classes.
    At 28x28 this is 28 -> 30 -> 10 -> 5, i.e. fc on 5*5*16 = 400 features.

    This follows the authors' public PyTorch code (christy1206/STSTNet, main.py), including its
    attribute names (conv1..3, bn1..3, fc), so their released per-subject ``.pth`` files load
    with ``load_state_dict``. As in that code every stream sees all three input channels
    (u, v, optical strain); the streams differ in their number of filters. Those released
    weights were trained on 8-bit images read with cv2 (BGR order, 0..255), so they expect
    that scaling, not miex's default ``normalize="minmax"`` features in [0, 1].

    Input kind ``"flow"``: (B, 3, 28, 28) from ``miex.features.flow_features`` with
    channels ("u", "v", "strain") and TV-L1 flow (the literature's choice).
    """

    fixed_size = True

    def __init__(
        self,
        num_classes: int = 3,
        image_size: int = 28,
        channels: Sequence[str] = ("u", "v", "strain"),
        filters: Sequence[int] = (3, 5, 8),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        image_size = check_size("ststnet", image_size, 6)
        channels = tuple(channels)
        if len(filters) != 3:
            raise MiexError(f"ststnet: filters must give three stream widths, got {tuple(filters)}")
        self.num_classes = int(num_classes)
        self.input_spec = InputSpec("flow", image_size, channels=len(channels), channel_names=channels,
                                    mean=None, std=None)
        c = len(channels)
        f1, f2, f3 = (int(f) for f in filters)
        self.conv1 = nn.Conv2d(c, f1, kernel_size=3, padding=2)
        self.conv2 = nn.Conv2d(c, f2, kernel_size=3, padding=2)
        self.conv3 = nn.Conv2d(c, f3, kernel_size=3, padding=2)
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm2d(f1)
        self.bn2 = nn.BatchNorm2d(f2)
        self.bn3 = nn.BatchNorm2d(f3)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=3, padding=1)
        self.avgpool = nn.AvgPool2d(kernel_size=2, stride=2, padding=0)
        self.dropout = nn.Dropout(p=dropout)
        side = ((image_size + 2 * 2 - 3 + 1) + 2 * 1 - 3) // 3 + 1  # conv (pad 2) then maxpool
        side //= 2  # avgpool
        if side < 1:
            raise MiexError(f"ststnet: image_size {image_size} is too small")
        self.fc = nn.Linear(side * side * (f1 + f2 + f3), num_classes)

    def _stream(self, x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
        return self.dropout(self.maxpool(bn(self.relu(conv(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = torch.cat([self._stream(x, self.conv1, self.bn1), self._stream(x, self.conv2, self.bn2),
                       self._stream(x, self.conv3, self.bn3)], dim=1)
        return self.fc(torch.flatten(self.avgpool(x), 1))
