"""The MiE-X classifier head, shared by ApexME, Branches and MIACNet."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


class MiEHead(nn.Sequential):
    """in_features -> Linear 128 -> ReLU -> Dropout 0.5 -> Linear 32 -> ReLU -> Dropout 0.5 -> Linear classes.

    The MiE-X code's head (design.md section 6). State_dict keys: ``0.*``, ``3.*``, ``6.*``.
    """

    def __init__(
        self, in_features: int, num_classes: int, hidden: Sequence[int] = (128, 32), dropout: float = 0.5
    ) -> None:
        layers: list[nn.Module] = []
        prev = in_features
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            prev = h
        layers.append(nn.Linear(prev, num_classes))
        super().__init__(*layers)
