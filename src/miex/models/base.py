"""Shared base class: every miex model is an ``nn.Module`` with an ``input_spec``."""

from __future__ import annotations

import torch
from torch import nn

from miex.errors import MiexError
from miex.models.spec import VECTOR_KINDS, InputSpec

#: The tensor layout of each input kind, for error messages.
LAYOUTS = {"pair": "(B, 2, C, H, W)", "apex": "(B, C, H, W)", "flow": "(B, C, H, W)", "video": "(B, C, T, H, W)",
           "flow_sequence": "(B, C, T, H, W)", "regions": "(B, R, C, h, w)", "region_clip": "(B, R, C, T, h, w)",
           "neighbours": "(B, N, C, H, W)", "lbp_top": "(B, D)", "bi_woof": "(B, D)"}


class MiexModel(nn.Module):
    """Base for miex recognisers: ``forward(x) -> (B, num_classes)`` logits.

    Subclasses set ``self.input_spec`` and ``self.num_classes``. ``create()`` also stores
    ``self.miex_config`` = {"name": ..., **options} so checkpoints can rebuild the model.
    """

    input_spec: InputSpec
    num_classes: int
    #: True when H and W must equal ``input_spec.size`` (fixed-size fully connected layers).
    fixed_size: bool = False
    #: Smallest H, W accepted when ``fixed_size`` is False.
    min_size: int = 32
    miex_config: dict

    def check_input(self, x: torch.Tensor) -> None:
        """Raise MiexError when ``x`` does not have the layout of ``input_spec``."""
        spec = self.input_spec
        want = spec.shape(batch=x.shape[0] if x.ndim else 0)
        name = type(self).__name__
        layout = LAYOUTS[spec.kind]
        if x.ndim != len(want):
            raise MiexError(f"{name} expects a {spec.kind!r} input {layout} like {want}, got {tuple(x.shape)}")
        if spec.kind in VECTOR_KINDS:
            if x.shape[1] != want[1]:
                raise MiexError(f"{name} expects {want[1]} features per sample, got {tuple(x.shape)}")
            return
        if spec.kind in ("pair", "regions", "region_clip", "neighbours") and x.shape[1] != want[1]:
            raise MiexError(f"{name} expects {want[1]} frames/regions on dim 1 {want}, got {tuple(x.shape)}")
        cdim = 2 if spec.kind in ("pair", "regions", "region_clip", "neighbours") else 1
        if x.shape[cdim] != spec.channels:
            raise MiexError(
                f"{name} expects {spec.channels} channels {spec.channel_names} on dim {cdim}, got {tuple(x.shape)}"
            )
        h, w = x.shape[-2:]
        if self.fixed_size and (h, w) != (spec.size, spec.size):
            raise MiexError(
                f"{name} was built for {spec.size}x{spec.size} inputs (image_size={spec.size}), got {h}x{w}"
            )
        if not self.fixed_size and min(h, w) < self.min_size:
            raise MiexError(f"{name} needs inputs of at least {self.min_size}x{self.min_size}, got {h}x{w}")


def check_size(name: str, image_size: int, minimum: int) -> int:
    image_size = int(image_size)
    if image_size < minimum:
        raise MiexError(f"{name}: image_size must be >= {minimum}, got {image_size}")
    return image_size


def check_width(name: str, width: int) -> int:
    width = int(width)
    if width < 1:
        raise MiexError(f"{name}: width must be a positive integer, got {width}")
    return width
