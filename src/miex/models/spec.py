"""What a model eats: the ``input_spec`` every miex model carries (see docs/INTERFACES.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Input kinds. The first four are the original ones; the rest came with the model zoo.
KINDS = ("pair", "apex", "flow", "video", "flow_sequence", "regions", "region_clip", "neighbours",
         "lbp_top", "bi_woof")
#: Kinds with a time axis (``frames`` is set for them and only for them).
TEMPORAL_KINDS = ("video", "flow_sequence", "region_clip", "neighbours")
#: Kinds that are one feature vector per sample (handcrafted features for classical estimators).
VECTOR_KINDS = ("lbp_top", "bi_woof")

#: MiE-X normalisation of RGB frames in [0, 1]: (x - 0.5) / 0.5.
MIEX_MEAN = (0.5, 0.5, 0.5)
MIEX_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class InputSpec:
    """The input one model expects (per batch of ``B`` samples).

    kind:
        ``"pair"``  (B, 2, 3, H, W): onset then apex RGB frame.
        ``"apex"``  (B, 3, H, W): the apex RGB frame.
        ``"flow"``  (B, C, H, W): onset->apex flow features (:func:`miex.features.flow_features`).
        ``"video"`` (B, C, T, H, W): a clip, onset to offset, ``C`` = 3 for RGB.
        ``"flow_sequence"`` (B, C, T, H, W): per resampled frame of the clip, the channels
            ``channel_names`` among gray/r/g/b (the frame) and u/v/strain/mag (flow from the
            onset, or from the previous frame with option ``ref="previous"``), see
            :func:`miex.features.flow_sequence`.
        ``"regions"`` (B, R, C, h, w): onset->apex flow features cropped around landmarks
            (option ``regions``: the region names), see :mod:`miex.features.regions`.
        ``"region_clip"`` (B, R, C, T, h, w): the clip's frames cropped around landmark regions.
        ``"neighbours"`` (B, N, 3, H, W): the apex frame and its neighbours (N = ``frames``,
            the apex in the middle), RGB normalised like "apex".
        ``"lbp_top"`` / ``"bi_woof"`` (B, D): handcrafted feature vectors (D = option ``dim``).
    size: H = W the model is built for (``image_size``); for "regions"/"region_clip" the side
        of each region patch.
    channels: C per frame (3 for RGB; 2 or 3 for flow).
    channel_names: ("r", "g", "b") for images; e.g. ("u", "v", "strain") for flow.
    frames: T for the temporal kinds, else None.
    mean, std: per-channel normalisation applied to RGB in [0, 1] before the model, or None
        when the features are already normalised (flow: see ``flow_features(normalize=...)``).
    options: kind-specific settings as sorted (name, value) pairs (hashable; part of the
        feature-cache key), read with :meth:`option`.
    """

    kind: str
    size: int
    channels: int = 3
    channel_names: tuple[str, ...] = ("r", "g", "b")
    frames: int | None = None
    mean: tuple[float, ...] | None = MIEX_MEAN
    std: tuple[float, ...] | None = MIEX_STD
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"input kind {self.kind!r} is not one of {KINDS}")
        if len(self.channel_names) != self.channels:
            raise ValueError("channel_names must name every channel")
        if (self.kind in TEMPORAL_KINDS) != (self.frames is not None):
            raise ValueError(f"frames is set for {', '.join(TEMPORAL_KINDS)} inputs and only for them")
        object.__setattr__(self, "options", tuple(sorted((str(k), _frozen(v)) for k, v in dict(self.options).items())))

    def option(self, name: str, default: Any = None) -> Any:
        """The kind-specific option ``name`` (``default`` when absent)."""
        return dict(self.options).get(name, default)

    def shape(self, batch: int = 1) -> tuple[int, ...]:
        """The tensor shape for ``batch`` samples."""
        s, c, t = self.size, self.channels, int(self.frames or 0)
        if self.kind == "pair":
            return (batch, 2, c, s, s)
        if self.kind in ("video", "flow_sequence"):
            return (batch, c, t, s, s)
        if self.kind == "regions":
            return (batch, len(self.option("regions", ())), c, s, s)
        if self.kind == "region_clip":
            return (batch, len(self.option("regions", ())), c, t, s, s)
        if self.kind == "neighbours":
            return (batch, t, c, s, s)
        if self.kind in VECTOR_KINDS:
            return (batch, int(self.option("dim", 0)))
        return (batch, c, s, s)


def _frozen(value: Any) -> Any:
    """Lists become tuples (recursively) so a spec stays hashable."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value
