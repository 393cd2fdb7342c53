"""Inverse AU estimator: AU intensities from 68-landmark motion against a neutral frame.

The same calibrated basis the warp generator renders with (:func:`miex.au.basis.load_basis`)
is read backwards:

1. the template landmarks are fitted to the neutral frame with a similarity (all 68
   points), which maps the basis rows into the neutral frame's pixels (rotation + scale);
2. head motion is removed by aligning the later frame to the neutral one with a similarity
   on :data:`STABLE_POINTS`, the landmarks the AU basis moves least;
3. the landmark displacement is solved for ``z >= 0`` by non-negative least squares and
   clipped to [0, 1]. The points in (2) still move a little under some AUs (up to 0.05
   IOD), so the alignment is repeated once with the predicted AU motion of those points
   taken into account (:data:`REFINE`).

``estimate_clip`` runs this on a folder of frames with the first frame as the neutral
reference and returns the AU table of ``docs/INTERFACES.md`` (the OpenFace reader's shape).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from miex.au.basis import apply_affine, load_basis, similarity
from miex.au.space import AU_NAMES, N_AUS
from miex.errors import InputError, MiexError, SkipLog

#: Landmarks used to remove head motion. Largest displacement any calibrated AU row gives
#: them at intensity 1 (IOD): inner eye corners 39/42 0.009, outer eye corners 36/45 0.016,
#: nose bridge 28 0.023, 29 0.040, 27 0.048, nose tip 30 0.055. (Jaw points 0/16 move as
#: little in the basis but dlib places contour points unreliably along the jaw.)
STABLE_POINTS: tuple[int, ...] = (36, 39, 42, 45, 27, 28, 29, 30)

#: Alignment refinements that account for the AU motion of the stable points.
REFINE = 1

#: Ridge penalty (IOD^2 per unit z^2) added to the non-negative least squares: an AU at
#: intensity z costs as much as sqrt(RIDGE) * z IOD of landmark misfit. The 17 landmark rows
#: are far from orthogonal (condition number 45: AU12/AU14, AU17/AU26, AU5/AU45 overlap), so
#: landmark noise of a fraction of a pixel spreads over correlated AUs; the penalty damps
#: that at the price of shrinkage. Measured: on exact basis motion (random z, 30 % of the AUs
#: active) 0.001 keeps Pearson r at 0.96 (0.99 without) with slope 0.82 (0.94); on warped
#: real faces re-detected by dlib it raises r from 0.28 to 0.30 (0.1-0.3) and 0.43 to 0.44
#: (0.5-1.0). 0.01 would give 0.37/0.46 there but halves the recovered intensities.
RIDGE = 0.001

#: Landmarks are re-detected on an upscaled face so the box is at least this wide (px):
#: dlib returns integer pixel positions, a quantisation as large as a micro-expression at
#: 128 px (see :func:`precise_landmarks`).
PRECISE_BOX = 400

#: Per-landmark weights of the least-squares fit: dlib's jaw contour (0-16) slides along
#: the face outline from frame to frame, so it counts half.
_WEIGHTS = np.ones(68)
_WEIGHTS[0:17] = 0.5


def _check(points: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.shape != (68, 2) or not np.all(np.isfinite(arr)):
        raise MiexError(f"{what} must be (68, 2) finite landmarks, got shape {arr.shape}")
    return arr


def basis_in_frame(neutral_landmarks: np.ndarray) -> np.ndarray:
    """The landmark basis mapped onto a face: (17, 68, 2) pixel displacements at intensity 1."""
    basis = load_basis()
    sim = similarity(basis.template, _check(neutral_landmarks, "neutral landmarks"))
    return basis.landmarks @ sim[:, :2].T


def align_to_neutral(neutral: np.ndarray, landmarks: np.ndarray, expected: np.ndarray | None = None) -> np.ndarray:
    """``landmarks`` moved by the similarity that best maps its stable points onto the
    neutral ones (plus the ``expected`` AU displacement of those points, if given)."""
    idx = list(STABLE_POINTS)
    target = neutral[idx] if expected is None else neutral[idx] + expected[idx]
    return apply_affine(similarity(landmarks[idx], target), landmarks)


def estimate_z(neutral_landmarks: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """AU vector (17,) in [0, 1] explaining the motion from ``neutral_landmarks`` to ``landmarks``.

    Both are (68, 2) dlib/iBUG landmarks of the same person, in any pixel frames (head
    translation, rotation in the image plane and scale are removed).
    """
    from scipy.optimize import nnls

    neutral = _check(neutral_landmarks, "neutral landmarks")
    later = _check(landmarks, "landmarks")
    basis = load_basis()
    sim = similarity(basis.template, neutral)
    rows = basis.landmarks @ sim[:, :2].T  # (17, 68, 2) pixels at intensity 1
    scale = float(np.hypot(*sim[:, 0]))  # pixels per IOD
    sw = np.sqrt(np.repeat(_WEIGHTS, 2))
    design = np.vstack([rows.reshape(N_AUS, -1).T * sw[:, None], np.sqrt(RIDGE) * scale * np.eye(N_AUS)])
    expected = None
    z = np.zeros(N_AUS)
    for _ in range(REFINE + 1):
        aligned = align_to_neutral(neutral, later, expected)
        delta = np.r_[(aligned - neutral).reshape(-1) * sw, np.zeros(N_AUS)]
        z, _ = nnls(design, delta)
        expected = np.tensordot(z, rows, axes=1)
    z[z < 1e-9] = 0.0  # round-off of the alignment on identical frames
    return np.clip(z, 0.0, 1.0)


def precise_landmarks(rgb: np.ndarray, box: tuple[int, int, int, int], detector=None, min_box: int = PRECISE_BOX) -> np.ndarray:
    """dlib's 68 landmarks with sub-pixel resolution: the face region (box grown by half its
    size) is upscaled (bicubic) until the box is ``min_box`` px wide, landmarked there and
    mapped back. dlib rounds landmarks to whole pixels of the image it sees."""
    import cv2

    from miex.faces import FaceDetector

    det = detector if detector is not None else FaceDetector()
    l, t, r, b = (int(v) for v in box)
    bw = max(r - l, 1)
    k = int(np.clip(np.ceil(min_box / bw), 1, 8))
    if k == 1:
        return det.landmarks(rgb, box)
    H, W = rgb.shape[:2]
    m = bw // 2
    x0, y0 = max(l - m, 0), max(t - m, 0)
    x1, y1 = min(r + m, W), min(b + m, H)
    patch = cv2.resize(np.ascontiguousarray(rgb[y0:y1, x0:x1]), None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
    big_box = ((l - x0) * k, (t - y0) * k, (r - x0) * k, (b - y0) * k)
    pts = det.landmarks(patch, big_box)
    return (pts + 0.5) / k - 0.5 + np.array([x0, y0], dtype=np.float64)


# --------------------------------------------------------------------------- clips


def frame_number(path: str | os.PathLike[str]) -> int | None:
    """The numeric part of a frame file name (the last digit run: ``img46.jpg`` -> 46)."""
    runs = re.findall(r"\d+", Path(path).stem)
    return int(runs[-1]) if runs else None


def _frame_paths(frames: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> list[Path]:
    from miex.faces import IMAGE_SUFFIXES

    if isinstance(frames, (str, os.PathLike)):
        folder = Path(frames)
        if not folder.is_dir():
            raise InputError(folder, "not a folder of frames")
        paths = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if not paths:
            raise InputError(folder, f"no frames ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
    else:
        paths = [Path(p) for p in frames]
        if not paths:
            raise MiexError("estimate_clip needs at least one frame")
    missing = [p for p in paths if frame_number(p) is None]
    if missing:
        raise InputError(missing[0], "frame file names need a number (e.g. img46.jpg) to order them")
    return sorted(paths, key=lambda p: (frame_number(p), p.name))


def clip_landmarks(paths: Sequence[Path], detector=None, skips: SkipLog | None = None) -> list[tuple[Path, np.ndarray]]:
    """(path, 68 sub-pixel landmarks in source pixels) of every frame with a face (detected
    per frame, see :func:`precise_landmarks`); others are reported to ``skips``."""
    from miex.faces import FaceDetector, load_image, locate_face

    det = detector if detector is not None else FaceDetector()
    out = []
    for path in paths:
        try:
            rgb = load_image(path)
            box, _, _ = locate_face(rgb, det, str(path))
        except InputError as exc:
            if skips is not None:
                skips.add(path, exc.reason)
            continue
        out.append((path, precise_landmarks(rgb, box, det)))
    return out


def estimate_clip(frames: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], detector=None):
    """AU table of a clip: ``frame`` (numeric part of the file name) + ``AU01 … AU45``.

    ``frames`` is a folder of images or a list of image paths; they are ordered by the
    numeric part of their file names. The first frame with a face is the neutral reference
    (its row is all zeros). Frames without a usable face are reported once each on stderr
    and dropped; ``df.attrs["dropped"]`` counts them, ``df.attrs["neutral_frame"]`` names
    the reference, ``df.attrs["source"]`` the folder (or the first frame's folder).
    """
    import pandas as pd

    paths = _frame_paths(frames)
    source = str(frames) if isinstance(frames, (str, os.PathLike)) else str(paths[0].parent)
    skips = SkipLog()
    found = clip_landmarks(paths, detector, skips)
    if not found:
        raise InputError(source, f"no face found in any of the {len(paths)} frames")
    neutral_path, neutral = found[0]
    rows = [[frame_number(p)] + list(estimate_z(neutral, pts)) for p, pts in found]
    df = pd.DataFrame(rows, columns=["frame", *AU_NAMES])
    df["frame"] = df["frame"].astype(int)
    df.attrs["source"] = source
    df.attrs["dropped"] = len(skips)
    df.attrs["neutral_frame"] = int(frame_number(neutral_path))
    return df
