"""LBP-TOP + linear SVM: the MEGC2019 baseline (See, Yap, Li, Hong & Wang, "MEGC 2019 - The
Second Facial Micro-Expressions Grand Challenge", FG 2019), after the CASME II baseline (Yan et
al., PLoS ONE 2014) and the LBP-TOP descriptor (Zhao & Pietikainen, IEEE TPAMI 2007).

Feature (input kind ``"lbp_top"``, :mod:`miex.features.lbptop`): the clip onset..offset in
grayscale, resized to ``image_size`` and TIM-resampled to ``frames`` frames; uniform LBP
(8 neighbours, 59 bins) on the XY, XT and YT planes with ``radii`` (Rx, Ry, Rt), one
normalised histogram per plane in each of ``blocks`` spatial blocks. Classifier: a linear SVM
per fold. miex's defaults: 5x5 blocks, radii (1, 1, 2), 10 frames, 128 px, C = 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from miex.errors import MiexError
from miex.features.lbptop import feature_dim
from miex.models.classical import ClassicalModel, classical_factory
from miex.models.registry import register_model
from miex.models.spec import InputSpec


@register_model("lbp_top")
@classical_factory
def lbp_top(
    num_classes: int = 3,
    image_size: int = 128,
    frames: int = 10,
    blocks: Sequence[int] = (5, 5),
    radii: Sequence[float] = (1, 1, 2),
    C: float = 1.0,
    class_weight: str = "",
    standardize: bool = False,
) -> ClassicalModel:
    """An LBP-TOP + linear-SVM model (module docstring)."""
    blocks, radii = tuple(int(b) for b in blocks), tuple(float(r) for r in radii)
    if len(blocks) != 2 or min(blocks) < 1 or len(radii) != 3:
        raise MiexError(f"lbp_top: blocks must be (rows, cols) and radii (rx, ry, rt), got {blocks}, {radii}")
    spec = InputSpec("lbp_top", int(image_size), channels=1, channel_names=("gray",), mean=None, std=None,
                     options=(("blocks", blocks), ("radii", radii), ("frames", int(frames)), ("resample", "tim"),
                              ("dim", feature_dim(blocks))))
    return ClassicalModel(num_classes, spec, C=C, class_weight=class_weight or None, standardize=standardize)
