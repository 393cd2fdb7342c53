"""What a model eats: the ``input_spec`` every miex model carries (see docs/INTERFACES.md)."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("pair", "apex", "flow", "video")

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
    size: H = W the model is built for (``image_size``); ResNet-based models accept any
        size >= 32, the flow and video models need exactly this size.
    channels: C per frame (3 for RGB; 2 or 3 for flow).
    channel_names: ("r", "g", "b") for images; e.g. ("u", "v", "strain") for flow.
    frames: T for ``"video"`` (the model resamples any T to its own lengths), else None.
    mean, std: per-channel normalisation applied to RGB in [0, 1] before the model, or None
        when the features are already normalised (flow: see ``flow_features(normalize=...)``).
    """

    kind: str
    size: int
    channels: int = 3
    channel_names: tuple[str, ...] = ("r", "g", "b")
    frames: int | None = None
    mean: tuple[float, ...] | None = MIEX_MEAN
    std: tuple[float, ...] | None = MIEX_STD

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"input kind {self.kind!r} is not one of {KINDS}")
        if len(self.channel_names) != self.channels:
            raise ValueError("channel_names must name every channel")
        if (self.kind == "video") != (self.frames is not None):
            raise ValueError("frames is set for video inputs and only for them")

    def shape(self, batch: int = 1) -> tuple[int, ...]:
        """The tensor shape for ``batch`` samples."""
        s, c = self.size, self.channels
        if self.kind == "pair":
            return (batch, 2, c, s, s)
        if self.kind == "video":
            return (batch, c, int(self.frames or 0), s, s)
        return (batch, c, s, s)
