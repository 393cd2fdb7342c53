"""The 17-AU space shared by OpenFace, GANimation and MiE-X.

In miex an AU vector ``z`` has 17 intensities in [0, 1], in the order of :data:`AU_NAMES`.
OpenFace reports intensities ``AUxx_r`` on a 0-5 scale: ``z = AUxx_r / 5``.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from miex.errors import MiexError

#: AU numbers in GANimation / OpenFace order.
AU_NUMBERS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45)
#: Column names used throughout miex (``AU01 … AU45``).
AU_NAMES: tuple[str, ...] = tuple(f"AU{n:02d}" for n in AU_NUMBERS)
N_AUS = len(AU_NAMES)
#: OpenFace intensity column names (``AU01_r …``).
OPENFACE_R_NAMES: tuple[str, ...] = tuple(f"{name}_r" for name in AU_NAMES)
OPENFACE_SCALE = 5.0

FACS_NAMES: dict[str, str] = {
    "AU01": "Inner Brow Raiser",
    "AU02": "Outer Brow Raiser",
    "AU04": "Brow Lowerer",
    "AU05": "Upper Lid Raiser",
    "AU06": "Cheek Raiser",
    "AU07": "Lid Tightener",
    "AU09": "Nose Wrinkler",
    "AU10": "Upper Lip Raiser",
    "AU12": "Lip Corner Puller",
    "AU14": "Dimpler",
    "AU15": "Lip Corner Depressor",
    "AU17": "Chin Raiser",
    "AU20": "Lip Stretcher",
    "AU23": "Lip Tightener",
    "AU25": "Lips Part",
    "AU26": "Jaw Drop",
    "AU45": "Blink",
}

#: 3-class MiE labels used by MEGC2019 and MiE-X.
LABEL_NAMES: dict[int, str] = {0: "negative", 1: "positive", 2: "surprise"}


def au_index(name: str | int) -> int:
    """Index of an AU in the 17-vector. Accepts ``12``, ``"12"``, ``"AU12"``, ``"au12"``, ``"AU12_r"``."""
    text = str(name).strip().upper().removesuffix("_R").removesuffix("_C").removeprefix("AU")
    try:
        number = int(text)
    except ValueError:
        raise MiexError(f"unknown AU {name!r}; expected one of {', '.join(AU_NAMES)}") from None
    if number not in AU_NUMBERS:
        raise MiexError(f"AU{number} is outside the 17-AU space ({', '.join(AU_NAMES)})")
    return AU_NUMBERS.index(number)


def validate_z(z: Iterable[float] | np.ndarray, *, what: str = "AU vector") -> np.ndarray:
    """Return ``z`` as a float64 array of shape (17,) or (n, 17); raise on bad length, NaN or range."""
    arr = np.asarray(z, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != N_AUS or arr.ndim > 2:
        raise MiexError(f"{what} must have {N_AUS} AU values (shape (17,) or (n, 17)), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise MiexError(f"{what} contains NaN or infinite values")
    if arr.min(initial=0.0) < 0.0 or arr.max(initial=0.0) > 1.0:
        raise MiexError(f"{what} has values outside [0, 1] (min {arr.min():.3g}, max {arr.max():.3g})")
    return arr


def from_openface(intensities: Iterable[float] | np.ndarray) -> np.ndarray:
    """OpenFace 0-5 intensities -> z in [0, 1] (clipped; OpenFace can overshoot slightly)."""
    arr = np.asarray(intensities, dtype=np.float64)
    return np.clip(arr / OPENFACE_SCALE, 0.0, 1.0)


def to_openface(z: Iterable[float] | np.ndarray) -> np.ndarray:
    """z in [0, 1] -> OpenFace 0-5 intensities."""
    return validate_z(z) * OPENFACE_SCALE


def z_from_mapping(values: Mapping[str | int, float]) -> np.ndarray:
    """Build a 17-vector from ``{"AU12": 0.3, 6: 0.2}``; unnamed AUs are zero."""
    z = np.zeros(N_AUS)
    for name, value in values.items():
        z[au_index(name)] = float(value)
    return validate_z(z)


def z_to_mapping(z: Iterable[float] | np.ndarray, *, nonzero: bool = True) -> dict[str, float]:
    arr = validate_z(z)
    return {name: float(v) for name, v in zip(AU_NAMES, arr) if v != 0 or not nonzero}
