"""Landmark-based facial regions: HTNet's four flow patches and MicroExpFuseNet's eye/mouth clips.

Landmarks are dlib's 68 iBUG points (:class:`miex.faces.FaceDetector`), found on one frame of
the clip (the apex for HTNet, as its code does; the onset for region clips). When no face is
found (a tiny or heavily cropped frame), the points of miex's face template placed with the
geometry of an aligned MiE-X crop (:mod:`miex.faces.align`, margin 0.1) are used instead, so
an aligned crop still gets sensible regions; :func:`face_landmarks` says which happened.

Named points (x, y in pixels; "l" and "r" are left and right *in the image*):
``l_eye`` / ``r_eye`` (mean of points 36-41 / 42-47), ``nose`` (30), ``l_lips`` / ``r_lips``
(mouth corners 48 / 54). Named boxes (squares around landmark groups): ``eyes`` (brows and
eyes, points 17-26 and 36-47) and ``mouth`` (points 48-67).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np

from miex.errors import MiexError
from miex.faces.align import DEFAULT_MARGIN, EYE_LINE, FACE_SQUARE_IOD

POINTS = {"l_eye": tuple(range(36, 42)), "r_eye": tuple(range(42, 48)), "nose": (30,), "l_lips": (48,),
          "r_lips": (54,)}
BOXES = {"eyes": tuple(range(17, 27)) + tuple(range(36, 48)), "mouth": tuple(range(48, 68))}
#: HTNet's four regions, in the order of its 2x2 mosaic: [[l_eye, l_lips], [r_eye, r_lips]].
HTNET_REGIONS = ("l_eye", "l_lips", "r_eye", "r_lips")
#: Relative padding of the boxes (the side is this much larger than the landmark extent).
BOX_PAD = {"eyes": 1.15, "mouth": 1.4}


@lru_cache(maxsize=1)
def _template_iod() -> np.ndarray:
    """miex's 68-point face template in inter-ocular units, centred between the eyes."""
    path = resources.files("miex") / "data" / "au_basis" / "template_68.csv"
    return np.loadtxt(str(path), delimiter=",", skiprows=1)[:, 1:3]


def template_landmarks(height: int, width: int, margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """The template's 68 points where an aligned crop of ``margin`` puts them (x, y pixels)."""
    side = float(min(height, width))
    face = side * (1.0 - 2.0 * margin)
    iod = face / FACE_SQUARE_IOD
    centre = np.array([width / 2.0, (height - side) / 2.0 + margin * side + EYE_LINE * face])
    return _template_iod() * iod + centre


@lru_cache(maxsize=1)
def _detector():
    from miex.faces import FaceDetector

    return FaceDetector(upsample=1)


def face_landmarks(frame: np.ndarray) -> tuple[np.ndarray, bool]:
    """(68 landmarks (x, y), True) from dlib, or (template landmarks, False) when no face is found."""
    img = np.ascontiguousarray(frame)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise MiexError(f"landmarks need an (H, W, 3) uint8 RGB frame, got {img.shape} {img.dtype}")
    det = _detector()
    small = max(img.shape[:2]) >= 400  # large frames: detect on a half-size copy (4x faster)
    probe = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA) if small else img
    boxes = det.detect(probe)
    if not boxes:
        return template_landmarks(*img.shape[:2]), False
    scale = 2 if small else 1
    box = tuple(int(v * scale) for v in boxes[0])
    return det.landmarks(img, box), True  # type: ignore[arg-type]


def region_point(landmarks: np.ndarray, name: str) -> np.ndarray:
    """(x, y) of the named point (see :data:`POINTS`)."""
    if name not in POINTS:
        raise MiexError(f"unknown facial point {name!r}; choose from {', '.join(POINTS)}")
    return np.asarray(landmarks)[list(POINTS[name])].mean(axis=0)


def region_box(landmarks: np.ndarray, name: str) -> tuple[float, float, float]:
    """(centre x, centre y, side) of the named square box (see :data:`BOXES`)."""
    if name not in BOXES:
        raise MiexError(f"unknown facial box {name!r}; choose from {', '.join(BOXES)}")
    pts = np.asarray(landmarks)[list(BOXES[name])]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    cx, cy = (lo + hi) / 2.0
    return float(cx), float(cy), float(max(hi - lo) * BOX_PAD[name])


def crop_square(image: np.ndarray, cx: float, cy: float, side: float, size: int) -> np.ndarray:
    """The square of ``side`` pixels centred at (cx, cy), resampled to ``size`` x ``size``
    (pixels outside the image replicate its border)."""
    scale = size / max(float(side), 1.0)
    m = np.array([[scale, 0.0, size / 2.0 - scale * cx], [0.0, scale, size / 2.0 - scale * cy]])
    flags = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(np.ascontiguousarray(image), m, (int(size), int(size)), flags=flags,
                          borderMode=cv2.BORDER_REPLICATE)


def flow_patches(maps: np.ndarray, centres: np.ndarray, patch: int) -> np.ndarray:
    """HTNet's crops: ``patch`` x ``patch`` windows of the (C, S, S) maps around each (x, y)
    centre (in map pixels), moved inside the map as HTNet clamps them -> (R, C, patch, patch)."""
    c, s, _ = maps.shape
    half = patch // 2
    if patch > s:
        raise MiexError(f"a {patch}-pixel region does not fit {s}x{s} flow maps")
    out = []
    for x, y in np.asarray(centres, dtype=np.float64):
        x0 = int(np.clip(round(x) - half, 0, s - patch))
        y0 = int(np.clip(round(y) - half, 0, s - patch))
        out.append(maps[:, y0:y0 + patch, x0:x0 + patch])
    return np.stack(out).astype(np.float32)


def region_clip(frames: np.ndarray, landmarks: np.ndarray, regions: Sequence[str], size: int) -> np.ndarray:
    """Grayscale crops of every frame in each named box -> (R, T, size, size) float32 in [0, 1]."""
    from miex.features.flow import to_gray

    boxes = [region_box(landmarks, r) for r in regions]
    out = np.zeros((len(boxes), len(frames), int(size), int(size)), np.float32)
    for t, frame in enumerate(frames):
        gray = to_gray(frame)
        for r, (cx, cy, side) in enumerate(boxes):
            out[r, t] = crop_square(gray, cx, cy, side, int(size))
    return out
