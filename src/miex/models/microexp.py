"""MicroExpSTCNN and MicroExpFuseNet (Reddy, Karri, Dubey & Mukherjee, "Spontaneous Facial
Micro-Expression Recognition using 3D Spatiotemporal Convolutional Neural Networks", IJCNN 2019).

Both are shallow 3D CNNs on grayscale clips, following the authors' public Keras code
(bogireddytejareddy/micro-expression-recognition): one 3D convolution with 32 filters of
3x3 pixels by ``temporal_kernel`` frames (15 in the code) -> ReLU -> 3x3x3 max pooling ->
Dropout -> flatten -> Dense 128 -> ReLU -> Dropout -> Dense classes.

- **MicroExpSTCNN** (``microexp_stcnn``) sees the whole face: input kind ``"video"``
  (B, 3, T, S, S), converted to gray inside the model, 64x64 pixels, clips TIM-resampled to
  ``frames`` = 18 frames (the code's CASME II setting).
- **MicroExpFuseNet** (``microexp_fusenet``) has one such 3D stream per facial region, the eye
  region (brows and eyes) and the mouth region, cropped from the clip around dlib landmarks
  (input kind ``"region_clip"`` (B, 2, 1, T, s, s), :mod:`miex.features.regions`), 32x32 each.
  ``fusion="intermediate"`` concatenates the two flattened stream features before the dense
  layers (the paper's intermediate fusion); ``"late"`` gives each stream its own dense layers
  and averages the two streams' logits (late fusion).

What miex chose: region crops are squares around the landmark groups (the code used fixed
boxes of its cropped datasets) resized to ``image_size``; TIM resampling to the same length for
every dataset (the code resampled each dataset to its own length).
"""

from __future__ import annotations

import torch
from torch import nn

from miex.errors import MiexError
from miex.models.base import MiexModel, check_size
from miex.models.registry import register_model
from miex.models.spec import InputSpec

_GRAY = (0.299, 0.587, 0.114)


def _stream(temporal_kernel: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(1, 32, kernel_size=(temporal_kernel, 3, 3)), nn.ReLU(inplace=True),
                         nn.MaxPool3d(3), nn.Dropout(dropout), nn.Flatten())


def _flat_size(frames: int, size: int, temporal_kernel: int, name: str) -> int:
    t, s = (frames - temporal_kernel + 1) // 3, (size - 2) // 3
    if t < 1 or s < 1:
        raise MiexError(f"{name}: {frames} frames of {size}x{size} are too few for a temporal kernel of "
                        f"{temporal_kernel} and 3x3x3 pooling (need frames >= temporal_kernel + 2, size >= 5)")
    return 32 * t * s * s


def _head(features: int, hidden: int, dropout: float, num_classes: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                         nn.Linear(hidden, num_classes))


@register_model("microexp_stcnn")
class MicroExpSTCNN(MiexModel):
    """One 3D convolution over the whole (grayscale) face clip. Input kind ``"video"``."""

    fixed_size = True
    min_size = 5

    def __init__(self, num_classes: int = 3, image_size: int = 64, frames: int = 18, temporal_kernel: int = 15,
                 hidden: int = 128, dropout: float = 0.5) -> None:
        super().__init__()
        image_size = check_size("microexp_stcnn", image_size, 5)
        self.num_classes = int(num_classes)
        self.input_spec = InputSpec("video", image_size, frames=int(frames), options=(("resample", "tim"),))
        self.stream = _stream(int(temporal_kernel), dropout)
        self.head = _head(_flat_size(int(frames), image_size, int(temporal_kernel), "microexp_stcnn"), int(hidden),
                          dropout, num_classes)
        self.register_buffer("gray", torch.tensor(_GRAY).view(1, 3, 1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        gray = (x * self.gray).sum(dim=1, keepdim=True)  # the normalised RGB -> normalised gray
        return self.head(self.stream(gray))


@register_model("microexp_fusenet")
class MicroExpFuseNet(MiexModel):
    """Eye-region and mouth-region 3D streams, fused. Input kind ``"region_clip"``."""

    fixed_size = True
    min_size = 5

    def __init__(self, num_classes: int = 3, image_size: int = 32, frames: int = 18, temporal_kernel: int = 15,
                 fusion: str = "intermediate", hidden: int = 128, dropout: float = 0.5) -> None:
        super().__init__()
        if fusion not in ("intermediate", "late"):
            raise MiexError(f"microexp_fusenet: fusion must be 'intermediate' or 'late', got {fusion!r}")
        image_size = check_size("microexp_fusenet", image_size, 5)
        self.num_classes = int(num_classes)
        self.fusion = fusion
        self.input_spec = InputSpec("region_clip", image_size, channels=1, channel_names=("gray",),
                                    frames=int(frames), mean=None, std=None,
                                    options=(("regions", ("eyes", "mouth")), ("resample", "tim")))
        flat = _flat_size(int(frames), image_size, int(temporal_kernel), "microexp_fusenet")
        self.eye_stream = _stream(int(temporal_kernel), dropout)
        self.mouth_stream = _stream(int(temporal_kernel), dropout)
        if fusion == "intermediate":
            self.head = _head(2 * flat, int(hidden), dropout, num_classes)
        else:
            self.eye_head = _head(flat, int(hidden), dropout, num_classes)
            self.mouth_head = _head(flat, int(hidden), dropout, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        eyes, mouth = self.eye_stream(x[:, 0]), self.mouth_stream(x[:, 1])
        if self.fusion == "intermediate":
            return self.head(torch.cat([eyes, mouth], dim=1))
        return 0.5 * (self.eye_head(eyes) + self.mouth_head(mouth))
