"""ResNet-18 written in miex, with torchvision's exact state_dict layout.

The module names and parameter shapes match ``torchvision.models.resnet18`` (conv1, bn1,
layer1.0.conv1 ... layer4.1.bn2, layerN.0.downsample.0/1, fc), so an ImageNet ``.pth``
saved from torchvision loads with :func:`load_backbone_weights`. torchvision itself is not
needed and nothing is downloaded: users bring the file.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from miex.errors import MiexError
from miex.models.base import MiexModel, check_size, check_width
from miex.models.registry import register_model
from miex.models.spec import InputSpec
from miex.models.weights import load_checked, read_state_dict


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (torchvision's BasicBlock)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(conv1x1(inplanes, planes, stride), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


@register_model("resnet18")
class ResNet18(MiexModel):
    """ResNet-18 classifier on the apex frame; also the trunk of ApexME, Branches and MIACNet.

    Options:
        num_classes: logits; 0 gives a trunk without ``fc`` (``forward`` returns pooled features).
        image_size: the default input size recorded in ``input_spec`` (any size >= 32 works).
        width: channels of the first stage (64 = torchvision; 16 or 32 for quick CPU runs;
            only width 64 can load ImageNet weights).
        in_chans: input channels (3 = RGB; other values cannot load ImageNet weights).
        pretrained_backbone: path of a torchvision-layout ``.pth`` to initialise all but ``fc``.
    """

    def __init__(
        self,
        num_classes: int = 3,
        image_size: int = 224,
        width: int = 64,
        in_chans: int = 3,
        pretrained_backbone: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        width = check_width("resnet18", width)
        image_size = check_size("resnet18", image_size, 32)
        self.num_classes = int(num_classes)
        self.num_features = 8 * width
        names = ("r", "g", "b") if in_chans == 3 else tuple(f"c{i}" for i in range(in_chans))
        self.input_spec = InputSpec("apex", image_size, channels=in_chans, channel_names=names)
        self.conv1 = nn.Conv2d(in_chans, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(width, width, stride=1)
        self.layer2 = self._make_layer(width, 2 * width, stride=2)
        self.layer3 = self._make_layer(2 * width, 4 * width, stride=2)
        self.layer4 = self._make_layer(4 * width, 8 * width, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc: nn.Module = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        self._init_weights()
        if pretrained_backbone is not None:
            load_backbone_weights(self, pretrained_backbone)

    @staticmethod
    def _make_layer(inplanes: int, planes: int, stride: int) -> nn.Sequential:
        return nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes))

    def _init_weights(self) -> None:
        # torchvision's initialisation (zero_init_residual=False).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> the layer4 feature map (B, 8*width, H/32, W/32)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def pool(self, fmap: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.avgpool(fmap), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.fc(self.pool(self.forward_features(x)))


def init_trunks(
    model: MiexModel, name: str, kind: str, num_classes: int, image_size: int, width: int, count: int = 1
) -> list[ResNet18]:
    """Start a recogniser built on ResNet-18 trunks (ApexME, Branches, MIACNet): set its
    ``num_classes`` and ``input_spec`` (``kind``, ``image_size`` >= 32, checked under ``name``) and
    return ``count`` new trunks without ``fc``, created in order (so seeded weights stay the same)."""
    model.num_classes = int(num_classes)
    model.input_spec = InputSpec(kind, check_size(name, image_size, 32))
    return [ResNet18(num_classes=0, image_size=image_size, width=width) for _ in range(count)]


def _backbone_part(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if not k.startswith("fc.")}


def load_backbone_weights(model: nn.Module, path: str | os.PathLike[str]) -> list[str]:
    """Initialise every ResNet-18 trunk inside ``model`` from a torchvision-layout ``.pth``.

    ``fc.*`` in the file is ignored (its class count differs); every other key must be
    present with the right shape, and the file may hold nothing else (strict on the
    backbone). ``num_batches_tracked`` may be absent (files from PyTorch < 0.4).
    For Branches both trunks get the same weights; for MIACNet both encoders.

    Returns the names of the loaded trunks ("" for ``model`` itself).
    Raises InputError for a missing/unreadable file, MiexError on mismatched keys/shapes.
    """
    trunks = [(name, m) for name, m in model.named_modules() if isinstance(m, ResNet18)]
    if not trunks:
        raise MiexError(f"{type(model).__name__} has no ResNet-18 backbone to load {path} into")
    given = _backbone_part(read_state_dict(path))
    for name, trunk in trunks:
        label = f"the ResNet-18 backbone {name!r} of {type(model).__name__}" if name else "a ResNet-18 backbone"
        if trunk.conv1.out_channels != 64 or trunk.conv1.in_channels != 3:
            label += (f" (width={trunk.conv1.out_channels}, in_chans={trunk.conv1.in_channels};"
                      " ImageNet weights need 64 and 3)")
        load_checked(_Backbone(trunk), given, source=path, what=label)
    return [name for name, _ in trunks]


class _Backbone(nn.Module):
    """A view of a ResNet18 without its ``fc`` (same key names), used for strict loading."""

    def __init__(self, trunk: ResNet18) -> None:
        super().__init__()
        for name in ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4"):
            self.add_module(name, getattr(trunk, name))
