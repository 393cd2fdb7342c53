"""DSSN, the dual-stream shallow network (Khor, See, Lee, Phan & Lin, "Dual-Stream Shallow Networks
for Facial Micro-Expression Recognition", IEEE ICIP 2019).

Two truncated (shallow) CNNs, one per heterogeneous input computed from the onset and apex
frames, are merged into one classifier. ``streams`` picks the pair among

- ``"flow"``: optical flow (u, v), onset -> apex;
- ``"strain"``: optical strain magnitude;
- ``"mag"``: flow magnitude;
- ``"gray"``: the grayscale apex frame.

Each stream: Conv 3x3 (``filters[0]``) -> BN -> ReLU -> MaxPool 2 -> Conv 3x3 (``filters[1]``)
-> BN -> ReLU -> MaxPool 2; the two feature maps are merged by concatenation (``fusion=
"concat"``) or element-wise addition (``"add"``), flattened -> FC 256 -> ReLU -> Dropout ->
FC classes. miex's choices (the paper's exact layer sizes are not reproduced here): the
default pair ("flow", "strain"), 28x28 min-max scaled maps like STSTNet, filters (16, 32).
Input kind ``"flow"`` with the channels of both streams.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from miex.errors import MiexError
from miex.models.base import MiexModel, check_size
from miex.models.registry import register_model
from miex.models.spec import InputSpec

STREAMS = {"flow": ("u", "v"), "strain": ("strain",), "mag": ("mag",), "gray": ("gray",)}


def _stream(cin: int, filters: tuple[int, int]) -> nn.Sequential:
    f1, f2 = filters
    return nn.Sequential(
        nn.Conv2d(cin, f1, 3, padding=1, bias=False), nn.BatchNorm2d(f1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(f1, f2, 3, padding=1, bias=False), nn.BatchNorm2d(f2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
    )


@register_model("dssn")
class DSSN(MiexModel):
    """Two unshared shallow CNN streams on two input types, merged (see the module docstring)."""

    fixed_size = True

    def __init__(
        self,
        num_classes: int = 3,
        image_size: int = 28,
        streams: Sequence[str] = ("flow", "strain"),
        fusion: str = "concat",
        filters: Sequence[int] = (16, 32),
        hidden: int = 256,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        streams = tuple(streams)
        if len(streams) != 2 or any(s not in STREAMS for s in streams) or streams[0] == streams[1]:
            raise MiexError(f"dssn: streams must be two different names among {', '.join(STREAMS)}, got {streams}")
        if fusion not in ("concat", "add"):
            raise MiexError(f"dssn: fusion must be 'concat' or 'add', got {fusion!r}")
        if len(filters) != 2:
            raise MiexError(f"dssn: filters must give two widths, got {tuple(filters)}")
        image_size = check_size("dssn", image_size, 4)
        self.num_classes = int(num_classes)
        self.fusion = fusion
        chans = STREAMS[streams[0]] + STREAMS[streams[1]]
        self.split = len(STREAMS[streams[0]])
        self.input_spec = InputSpec("flow", image_size, channels=len(chans), channel_names=chans, mean=None, std=None)
        f = (int(filters[0]), int(filters[1]))
        self.stream_a = _stream(self.split, f)
        self.stream_b = _stream(len(chans) - self.split, f)
        side = image_size // 4
        merged = f[1] * side * side * (2 if fusion == "concat" else 1)
        self.classifier = nn.Sequential(nn.Linear(merged, int(hidden)), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                        nn.Linear(int(hidden), num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        a, b = self.stream_a(x[:, : self.split]), self.stream_b(x[:, self.split :])
        merged = torch.cat([a, b], dim=1) if self.fusion == "concat" else a + b
        return self.classifier(torch.flatten(merged, 1))
