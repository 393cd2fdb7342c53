"""AU intensities from 68 dlib landmarks: one interface, two methods.

``method="3d"`` (default, :mod:`miex.au.fit3d`)
    A 3D blendshape fit of the whole clip on the ICT-FaceKit face model: per clip an
    identity, per frame a weak-perspective head pose and non-negative AU intensities on the
    generator's AU basis lifted to 3D. Head yaw/pitch/roll are part of the model, so they do
    not leak into the AUs, and no neutral frame is needed (``reference="absolute"``).

``method="2d"`` (the first estimator, kept for comparison)
    The template is fitted to the neutral frame with a similarity, the later frame is aligned
    to it on :data:`STABLE_POINTS` (in-plane head motion only) and the landmark displacement is
    solved for ``z >= 0`` by NNLS on the 2D basis. Needs a neutral first frame.

``reference``: ``"first"`` reports z relative to the first frame with a face (the onset of a
micro-expression clip; its row is zero), ``"absolute"`` (3d only) against the model's neutral
face. See the README ("AU estimation") for which the AU sources use and why.

``estimate_clip`` runs the estimator on a folder of frames and returns the AU table of
``docs/INTERFACES.md`` plus ``confidence`` (in [0, 1], from the fit residual) and ``success``
(0 when the fit failed) columns, so OpenFace-style ``min_confidence`` filters apply.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from miex.au.basis import apply_affine, load_basis, similarity
from miex.au.space import AU_NAMES, N_AUS
from miex.au.tracking import PRECISE_BOX, check_detect, precise_landmarks  # noqa: F401 (public here too)
from miex.errors import InputError, MiexError, SkipLog

#: Estimation methods (see the module docstring) and the default, the better one measured
#: (README, "AU estimation": round trip on posed warp renders).
METHODS: tuple[str, ...] = ("3d", "2d")
DEFAULT_METHOD = "3d"
#: What z is relative to: the first frame of the clip, or the model's neutral face (3d).
REFERENCES: tuple[str, ...] = ("first", "absolute")

#: 2d method: landmarks used to remove head motion. Largest displacement any calibrated AU row gives
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


def _solve_2d(neutral: np.ndarray, later: np.ndarray) -> tuple[np.ndarray, float]:
    """The 2D method's z (17,) and its weighted residual RMS (IOD)."""
    from miex.au.nnls import nnls_qp

    basis = load_basis()
    sim = similarity(basis.template, neutral)
    rows = basis.landmarks @ sim[:, :2].T  # (17, 68, 2) pixels at intensity 1
    scale = float(np.hypot(*sim[:, 0]))  # pixels per IOD
    sw = np.sqrt(np.repeat(_WEIGHTS, 2))
    design = np.vstack([rows.reshape(N_AUS, -1).T * sw[:, None], np.sqrt(RIDGE) * scale * np.eye(N_AUS)])
    gram = (design.T @ design)[None]
    expected, support = None, None
    for _ in range(REFINE + 1):
        aligned = align_to_neutral(neutral, later, expected)
        delta = np.r_[(aligned - neutral).reshape(-1) * sw, np.zeros(N_AUS)]
        z = nnls_qp(gram, (design.T @ delta)[None], start=support)[0]
        support = z[None] > 0
        expected = np.tensordot(z, rows, axes=1)
    z[z < 1e-9] = 0.0  # round-off of the alignment on identical frames
    res = np.linalg.norm(aligned - neutral - expected, axis=1) / scale
    rms = float(np.sqrt((_WEIGHTS * res**2).sum() / _WEIGHTS.sum()))
    return np.clip(z, 0.0, 1.0), rms


def estimate_z_2d(neutral_landmarks: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 2D method: AU vector (17,) in [0, 1] explaining the motion from
    ``neutral_landmarks`` to ``landmarks`` ((68, 2) each, same person, any pixel frames;
    head translation, rotation in the image plane and scale are removed)."""
    return _solve_2d(_check(neutral_landmarks, "neutral landmarks"), _check(landmarks, "landmarks"))[0]


def estimate_z(neutral_landmarks: np.ndarray, landmarks: np.ndarray, method: str | None = None) -> np.ndarray:
    """AU vector (17,) in [0, 1] of ``landmarks`` relative to ``neutral_landmarks`` ((68, 2)
    dlib landmarks of the same person in pixels), by ``method`` (default
    :data:`DEFAULT_METHOD`)."""
    neutral = _check(neutral_landmarks, "neutral landmarks")
    later = _check(landmarks, "landmarks")
    # two frames are not a continuous clip: no temporal prior
    return estimate_landmarks(np.stack([neutral, later]), method=method, reference="first", smooth=0.0).z[1]


@dataclass
class Estimate:
    """Per-frame output of :func:`estimate_landmarks` for T frames."""

    z: np.ndarray  # (T, 17) in [0, 1]
    confidence: np.ndarray  # (T,) in [0, 1]
    success: np.ndarray  # (T,) bool
    rms: np.ndarray  # (T,) fit residual RMS (IOD)
    fit: object = None  # the 3D method's ClipFit (pose, identity), else None


def check_method(method: str | None, reference: str = "first") -> str:
    """The method name to use; :class:`MiexError` for unknown names or combinations."""
    method = DEFAULT_METHOD if method is None else str(method).lower()
    if method not in METHODS:
        raise MiexError(f"AU estimation method must be one of {', '.join(METHODS)}, got {method!r}")
    if reference not in REFERENCES:
        raise MiexError(f"AU reference must be one of {', '.join(REFERENCES)}, got {reference!r}")
    if method == "2d" and reference != "first":
        raise MiexError("the 2d AU estimator needs a neutral first frame (reference 'first'); use --method 3d")
    return method


def estimate_landmarks(
    landmarks: np.ndarray,
    *,
    method: str | None = None,
    reference: str = "first",
    smooth: float | None = None,
    tracks: np.ndarray | None = None,
) -> Estimate:
    """AUs of a clip's landmarks (T, 68, 2) in time order: the one estimator entry point.

    ``reference``: ``"first"`` (relative to frame 0) or ``"absolute"`` (3d only).
    ``smooth``: the 3d fit's temporal penalty (default :data:`miex.au.fit3d.SMOOTH`; 0 for
    frames that are not a continuous clip). ``tracks``: dense-flow tracks
    (:func:`miex.au.flow.clip_tracks`) for the 3d relative solve.
    """
    from miex.au.fit3d import SMOOTH, check_landmarks, fit_clip

    method = check_method(method, reference)
    obs = check_landmarks(landmarks)
    if method == "3d":
        if tracks is not None and reference != "first":
            raise MiexError("dense-flow tracks refine relative intensities only (reference 'first')")
        fit = fit_clip(
            obs, reference=0 if reference == "first" else "absolute", smooth=SMOOTH if smooth is None else smooth, tracks=tracks
        )
        return Estimate(fit.z, fit.confidence, fit.success, fit.rms, fit)
    from miex.au.fit3d import CONFIDENCE_SCALE, MAX_RMS

    solved = [_solve_2d(obs[0], frame) for frame in obs]
    z = np.array([s[0] for s in solved])
    rms = np.array([s[1] for s in solved])
    return Estimate(z, np.exp(-((rms / CONFIDENCE_SCALE) ** 2)), rms <= MAX_RMS, rms)


# --------------------------------------------------------------------------- clips


def frame_number(path: str | os.PathLike[str]) -> int | None:
    """The numeric part of a frame file name (the last digit run: ``img46.jpg`` -> 46)."""
    runs = re.findall(r"\d+", Path(path).stem)
    return int(runs[-1]) if runs else None


def frame_paths(frames: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> list[Path]:
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


def iter_landmarks(
    paths: Sequence[Path],
    detector=None,
    skips: SkipLog | None = None,
    *,
    detect: str | None = None,
    require_first: bool = False,
):
    """Yield (path, RGB frame, 68 sub-pixel landmarks in source pixels) of every frame with a
    face, each frame decoded once. ``detect``: ``"track"`` (default: one detection, then the
    face is followed, :class:`miex.au.tracking.ClipTracker`) or ``"every"`` frame. Frames
    without a face go to ``skips``; with ``require_first`` the first frame must have one
    (:class:`InputError` naming it, e.g. a clip's neutral reference)."""
    from miex.au.tracking import ClipTracker
    from miex.faces import load_image

    tracker = ClipTracker(detector, detect)
    for i, path in enumerate(paths):
        try:
            rgb = load_image(path)
            pts = tracker.landmarks(rgb, str(path))
        except InputError as exc:
            if require_first and i == 0:
                raise
            if skips is not None:
                skips.add(path, exc.reason)
            continue
        yield path, rgb, pts


def clip_landmarks(
    paths: Sequence[Path], detector=None, skips: SkipLog | None = None, *, detect: str | None = None
) -> list[tuple[Path, np.ndarray]]:
    """(path, 68 sub-pixel landmarks in source pixels) of every frame with a face (see
    :func:`iter_landmarks`); others are reported to ``skips``."""
    return [(path, pts) for path, _, pts in iter_landmarks(paths, detector, skips, detect=detect)]


def _landmarks_and_tracks(paths: Sequence[Path], detector, skips: SkipLog, flow: bool, **how):
    """[(path, landmarks)] and, with ``flow``, the dense-flow tracks (T, 452, 2) from the first
    frame with a face, computed while each frame is decoded (once). ``how``: the keywords
    of :func:`iter_landmarks`."""
    from miex.au.flow import FlowReference

    found, tracks, ref = [], [], None
    for path, rgb, pts in iter_landmarks(paths, detector, skips, **how):
        found.append((path, pts))
        if not flow:
            continue
        if ref is None:
            ref = FlowReference(rgb, pts)
            tracks.append(ref.points)
        else:
            tracks.append(ref.track(rgb, pts))
    return found, (np.stack(tracks) if flow and tracks else None)


def estimate_clip(
    frames: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    detector=None,
    *,
    method: str | None = None,
    reference: str = "first",
    flow: bool | None = None,
    detect: str | None = None,
    require_first: bool = False,
    skips: SkipLog | None = None,
):
    """AU table of a clip: ``frame`` (numeric part of the file name), ``AU01 … AU45``,
    ``confidence``, ``success``.

    ``frames`` is a folder of images or a list of image paths; they are ordered by the
    numeric part of their file names. ``method``/``reference``: see
    :func:`estimate_landmarks`; with ``reference="first"`` the first frame with a face is the
    reference (its row is all zeros). ``flow`` (3d, reference "first"; default on there): add
    the dense optical-flow tracks of :mod:`miex.au.flow` to the fit. ``detect``: ``"track"``
    (default: the face is detected on the first frame and followed, re-detected when tracking
    fails; :mod:`miex.au.tracking`) or ``"every"`` frame. Each frame is decoded once. Frames
    without a usable face are reported once each on stderr and dropped (with ``require_first``
    the first frame must have one: :class:`InputError` naming it; ``skips``: the
    :class:`~miex.errors.SkipLog` they go to instead); frames whose fit failed stay with
    ``success`` 0 and their AUs set to 0 (as OpenFace writes them). ``df.attrs``: ``dropped`` (frames without a face), ``failed``
    (success 0), ``neutral_frame`` (the reference frame, or None for absolute), ``source``
    (the folder, or the first frame's folder), ``method``, ``reference``, ``flow``,
    ``detect``, ``detections`` (frames the face detector ran on).
    """
    import pandas as pd

    from miex.faces import FaceDetector

    method = check_method(method, reference)
    paths = frame_paths(frames)
    source = str(frames) if isinstance(frames, (str, os.PathLike)) else str(paths[0].parent)
    skips = skips if skips is not None else SkipLog()
    skipped = len(skips)
    use_flow = (method == "3d" and reference == "first") if flow is None else bool(flow)
    if use_flow and (method != "3d" or reference != "first"):
        raise MiexError("dense-flow refinement needs --method 3d and reference 'first'")
    detect = check_detect(detect)
    det = detector if detector is not None else FaceDetector()
    calls = det.calls
    found, tracks = _landmarks_and_tracks(paths, det, skips, use_flow, detect=detect, require_first=require_first)
    if not found:
        raise InputError(source, f"no face found in any of the {len(paths)} frames")
    landmarks = np.stack([pts for _, pts in found])
    est = estimate_landmarks(landmarks, method=method, reference=reference, tracks=tracks)
    z = np.where(est.success[:, None], est.z, 0.0)
    df = pd.DataFrame(z, columns=list(AU_NAMES))
    df.insert(0, "frame", np.array([frame_number(p) for p, _ in found], dtype=np.int64))
    df["confidence"] = np.round(est.confidence, 4)
    df["success"] = est.success.astype(np.int64)
    df.attrs["source"] = source
    df.attrs["dropped"] = len(skips) - skipped
    df.attrs["failed"] = int((~est.success).sum())
    df.attrs["neutral_frame"] = int(frame_number(found[0][0])) if reference == "first" else None
    df.attrs["method"] = method
    df.attrs["reference"] = reference
    df.attrs["flow"] = use_flow
    df.attrs["detect"] = detect
    df.attrs["detections"] = det.calls - calls
    return df
