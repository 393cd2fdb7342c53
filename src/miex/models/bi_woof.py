"""Bi-WOOF + SVM (Liong, See, Wong & Phan, "Less is more: Micro-expression recognition from
video using apex frame", Signal Processing: Image Communication 2018).

Feature (input kind ``"bi_woof"``, :mod:`miex.features.biwoof`): onset->apex optical flow on
the frames resized to ``image_size``; per block of a ``blocks`` x ``blocks`` grid an
orientation histogram (``bins``) weighted by flow magnitude, normalised and weighted by the
block's mean optical strain. Classifier: a linear SVM per fold (the paper: linear SVM).
miex's defaults: 5x5 blocks, 8 bins, 128 px, C = 1, standardised features (the strain-weighted
histograms are tiny numbers).
"""

from __future__ import annotations

from miex.features.biwoof import feature_dim
from miex.models.classical import ClassicalModel, classical_factory
from miex.models.registry import register_model
from miex.models.spec import InputSpec


@register_model("bi_woof")
@classical_factory
def bi_woof(
    num_classes: int = 3,
    image_size: int = 128,
    blocks: int = 5,
    bins: int = 8,
    C: float = 1.0,
    class_weight: str = "",
    standardize: bool = True,
) -> ClassicalModel:
    """A Bi-WOOF + linear-SVM model (module docstring)."""
    spec = InputSpec("bi_woof", int(image_size), channels=1, channel_names=("flow",), mean=None, std=None,
                     options=(("blocks", int(blocks)), ("bins", int(bins)), ("dim", feature_dim(blocks, bins))))
    return ClassicalModel(num_classes, spec, C=C, class_weight=class_weight or None, standardize=standardize)
