"""OFF-ApexNet (Gan et al., Signal Processing: Image Communication 2019)."""

from __future__ import annotations

import torch
from torch import nn

from miex.errors import MiexError
from miex.models.base import MiexModel, check_size
from miex.models.registry import register_model
from miex.models.spec import InputSpec


def _stream() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, kernel_size=5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
    )


@register_model("offapexnet")
class OFFApexNet(MiexModel):
    """Two unshared conv streams on the onset->apex flow components u and v.

    Each stream: Conv 5x5 6 ("same") -> ReLU -> MaxPool 2 -> Conv 5x5 16 -> ReLU -> MaxPool 2
    (28 -> 14 -> 7). The two 7x7x16 maps are concatenated and flattened (1568) ->
    FC 1024 -> ReLU -> Dropout -> FC 1024 -> ReLU -> Dropout -> FC classes.

    Input kind ``"flow"``: (B, 2, 28, 28), channels ("u", "v") from
    ``miex.features.flow_features(channels=("u", "v"))``.
    """

    fixed_size = True

    def __init__(self, num_classes: int = 3, image_size: int = 28, hidden: int = 1024, dropout: float = 0.5) -> None:
        super().__init__()
        image_size = check_size("offapexnet", image_size, 4)
        self.num_classes = int(num_classes)
        self.input_spec = InputSpec("flow", image_size, channels=2, channel_names=("u", "v"), mean=None, std=None)
        self.u_stream = _stream()
        self.v_stream = _stream()
        side = image_size // 2 // 2
        if side < 1:
            raise MiexError(f"offapexnet: image_size {image_size} is too small")
        self.classifier = nn.Sequential(
            nn.Linear(2 * 16 * side * side, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        u = torch.flatten(self.u_stream(x[:, 0:1]), 1)
        v = torch.flatten(self.v_stream(x[:, 1:2]), 1)
        return self.classifier(torch.cat([u, v], dim=1))
