"""The generator interface: render an AU vector onto a prepared face.

Every backend (the training-free warp now, GANimation later) implements :class:`Generator`.
A generator works in two steps so that per-face work is done once:

- ``prepared = gen.prepare(face)`` -- per-face precomputation (``face`` is a
  :class:`miex.faces.Face` or anything with ``image`` (S, S, 3) uint8 RGB and ``landmarks``
  (68, 2) crop pixel coordinates);
- ``gen.render(prepared, z)`` -- one frame for AU vector ``z`` (17 values in [0, 1], order
  :data:`miex.au.space.AU_NAMES`), a uint8 RGB image of the face crop's size.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

from miex.au.space import validate_z


class Generator(ABC):
    """A conditional face generator: (face, AU vector) -> image."""

    #: Registry name (``create_generator(name)``).
    name: str = ""

    @abstractmethod
    def prepare(self, face: Any) -> Any:
        """Per-face precomputation; the result is passed to :meth:`render`."""

    @abstractmethod
    def render(self, prepared: Any, z: Sequence[float] | np.ndarray) -> np.ndarray:
        """One frame: (S, S, 3) uint8 RGB, same size as the face crop."""

    def render_many(self, prepared: Any, zs: Sequence[Sequence[float]] | np.ndarray) -> list[np.ndarray]:
        """Frames for AU vectors ``zs`` (n, 17)."""
        arr = validate_z(zs, what="AU vectors")
        if arr.ndim == 1:
            arr = arr[None]
        return [self.render(prepared, z) for z in arr]

    def warm_up(self, size: int) -> None:
        """Do the one-off work of a first frame at crop ``size`` now (loading compiled code,
        for example), so that a worker process can do it while the main process plans.
        The default does nothing; the output of later frames never depends on it."""

    def render_face(self, face: Any, z: Sequence[float] | np.ndarray) -> np.ndarray:
        """Convenience: ``render(prepare(face), z)``."""
        return self.render(self.prepare(face), z)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
