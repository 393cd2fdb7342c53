"""ATNet, the apex-time network (Peng, Wang, Bi, Shi, Zhou & Chen, "A Novel Apex-Time Network for
Cross-Dataset Micro-Expression Recognition", ACII 2019).

ATNet recognises a micro-expression from the spatial information of the apex frame and the
temporal information of the frames next to it. miex builds it as two branches:

- *spatial*: a ResNet-18 trunk on the apex frame;
- *temporal*: an unshared ResNet-18 trunk on the differences between the apex and each of its
  neighbours (``frames`` - 1 difference images stacked as channels), which carry the motion
  around the apex;

the two pooled feature vectors are concatenated -> the MiE-X head (Linear 128 -> 32 -> classes).

What miex chose: the paper's exact layers and neighbour spacing are not public; miex takes the
``frames`` consecutive frames centred on the annotated apex (default 3: apex - 1, apex,
apex + 1; SMIC's apex is the configured one, e.g. the middle frame), within onset..offset.
Input kind ``"neighbours"`` (B, N, 3, H, W), augmented like image models (one random transform
for all N frames), RGB normalised with mean/std 0.5.
"""

from __future__ import annotations

import os

import torch

from miex.errors import MiexError
from miex.models.base import MiexModel
from miex.models.heads import MiEHead
from miex.models.registry import register_model
from miex.models.base import check_size
from miex.models.resnet import ResNet18, load_backbone_weights
from miex.models.spec import InputSpec


@register_model("atnet")
class ATNet(MiexModel):
    """Spatial (apex) + temporal (apex - neighbours) ResNet-18 branches, concatenated."""

    def __init__(
        self,
        num_classes: int = 3,
        image_size: int = 224,
        frames: int = 3,
        width: int = 64,
        dropout: float = 0.5,
        pretrained_backbone: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        frames = int(frames)
        if frames < 2:
            raise MiexError(f"atnet: frames must be at least 2 (the apex and a neighbour), got {frames}")
        image_size = check_size("atnet", image_size, 32)
        self.num_classes = int(num_classes)
        self.input_spec = InputSpec("neighbours", image_size, frames=frames)
        self.apex_index = frames // 2
        self.spatial = ResNet18(num_classes=0, image_size=image_size, width=width)
        self.temporal = ResNet18(num_classes=0, image_size=image_size, width=width, in_chans=3 * (frames - 1))
        self.head = MiEHead(self.spatial.num_features + self.temporal.num_features, num_classes, dropout=dropout)
        if pretrained_backbone is not None:  # only the RGB (spatial) trunk can take ImageNet weights
            load_backbone_weights(self.spatial, pretrained_backbone)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        apex = x[:, self.apex_index]
        others = torch.cat([x[:, :self.apex_index], x[:, self.apex_index + 1:]], dim=1)
        diffs = (others - apex[:, None]).flatten(1, 2)  # (B, 3 (N - 1), H, W)
        s = self.spatial.pool(self.spatial.forward_features(apex))
        t = self.temporal.pool(self.temporal.forward_features(diffs))
        return self.head(torch.cat([s, t], dim=1))
