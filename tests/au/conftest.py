"""Fixture writers for OpenFace 2.x CSVs with the real header strings of each variant."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

AU_R = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15",
        "AU17", "AU20", "AU23", "AU25", "AU26", "AU45"]
# OpenFace's presence classifiers: 18, AU28 included, sorted by name.
AU_C = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15",
        "AU17", "AU20", "AU23", "AU25", "AU26", "AU28", "AU45"]


def _gaze_block() -> list[str]:
    cols = ["gaze_0_x", "gaze_0_y", "gaze_0_z", "gaze_1_x", "gaze_1_y", "gaze_1_z", "gaze_angle_x", "gaze_angle_y"]
    for axis in ("x", "y", "X", "Y", "Z"):
        cols += [f"eye_lmk_{axis}_{i}" for i in range(56)]
    return cols


POSE = ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
LMK_2D = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
LMK_3D = [f"{a}_{i}" for a in ("X", "Y", "Z") for i in range(68)]
PARAMS = ["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"] + [f"p_{i}" for i in range(34)]


def openface_header(variant: str) -> list[str]:
    """Column names, in file order, of an OpenFace output variant.

    * ``"2.2"``: FeatureExtraction 2.2 with every optional block (``","`` separated).
    * ``"2.0"``: the same columns written by 2.0/2.1 builds with ``", "`` separators.
    * ``"no_c"``: FeatureExtraction with ``-pose -aus``-style output but no ``_c`` columns.
    * ``"image"``: FaceLandmarkImg (``face, confidence``; no frame/success).
    * ``"shuffled"``: every block present but the AU columns in an unusual order (``_c`` first,
      intensities reversed) to prove selection by name.
    """
    if variant in ("2.2", "2.0"):
        return (["frame", "face_id", "timestamp", "confidence", "success"] + _gaze_block() + POSE + LMK_2D
                + LMK_3D + PARAMS + [f"{a}_r" for a in AU_R] + [f"{a}_c" for a in AU_C])
    if variant == "no_c":
        return ["frame", "face_id", "timestamp", "confidence", "success"] + POSE + [f"{a}_r" for a in AU_R]
    if variant == "image":
        return (["face", "confidence"] + _gaze_block() + POSE + LMK_2D + PARAMS
                + [f"{a}_r" for a in AU_R] + [f"{a}_c" for a in AU_C])
    if variant == "shuffled":
        return (["frame", "face_id", "timestamp", "confidence", "success"] + [f"{a}_c" for a in AU_C]
                + POSE + [f"{a}_r" for a in reversed(AU_R)] + LMK_2D)
    raise ValueError(variant)


def write_openface_csv(
    path: Path,
    z: np.ndarray,
    *,
    variant: str = "2.2",
    frames: list[int] | None = None,
    confidence: list[float] | None = None,
    success: list[int] | None = None,
    face_id: list[int] | None = None,
    seed: int = 0,
    override: dict[tuple[int, str], str] | None = None,
) -> np.ndarray:
    """Write an OpenFace-style CSV whose ``AUxx_r`` = ``5·z`` (2 decimals, as OpenFace prints).

    Returns the z the reader should give back (``round(5 z, 2) / 5``). Other columns get
    plausible random values. ``override`` replaces single cells: ``{(row, column): text}``.
    """
    z = np.atleast_2d(np.asarray(z, dtype=float))
    n = len(z)
    cols = openface_header(variant)
    gen = np.random.default_rng(seed)
    frames = frames if frames is not None else list(range(1, n + 1))
    confidence = confidence if confidence is not None else [0.98] * n
    success = success if success is not None else [1] * n
    face_id = face_id if face_id is not None else [0] * n
    r = np.round(5.0 * z, 2)
    sep = ", " if variant == "2.0" else ","
    lines = [sep.join(cols)]
    for i in range(n):
        values = []
        for col in cols:
            if (i, col) in (override or {}):
                values.append(override[(i, col)])
            elif col == "frame":
                values.append(str(frames[i]))
            elif col in ("face_id", "face"):
                values.append(str(face_id[i] if col == "face_id" else i))
            elif col == "timestamp":
                values.append(f"{(frames[i] - 1) / 30:.3f}")
            elif col == "confidence":
                values.append(f"{confidence[i]:.2f}")
            elif col == "success":
                values.append(str(success[i]))
            elif col.endswith("_r") and col.startswith("AU"):
                values.append(f"{r[i, AU_R.index(col[:-2])]:.2f}")
            elif col.endswith("_c") and col.startswith("AU"):
                name = col[:-2]
                values.append("1.0" if name in AU_R and r[i, AU_R.index(name)] > 1 else "0.0")
            else:
                values.append(f"{gen.normal(0, 50):.1f}")
        lines.append(sep.join(values))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return np.clip(r / 5.0, 0.0, 1.0)


@pytest.fixture
def openface_csv() -> Callable[..., np.ndarray]:
    return write_openface_csv


def ramp_table(n: int, *, start_frame: int = 1, scale: float = 1.0):
    """An AU table whose row k has every AU = scale·(k+1)/(n+1): each row is identifiable."""
    import pandas as pd

    values = scale * (np.arange(1, n + 1) / (n + 1))[:, None] * np.ones((1, len(AU_R)))
    table = pd.DataFrame(values, columns=AU_R)
    table.insert(0, "frame", np.arange(start_frame, start_frame + n, dtype=np.int64))
    return table


@pytest.fixture
def make_ramp_table():
    return ramp_table
