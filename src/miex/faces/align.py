"""Eye-based similarity alignment into a square crop, and the :class:`Face` record.

Geometry (``S`` = crop size, ``m`` = ``margin``, IOD = inter-ocular distance between the
two eye centres, each the mean of landmarks 36-41 and 42-47):

- The *face square* has side ``F = S * (1 - 2m)`` and sits centred in the crop, leaving
  ``m * S`` on every side.
- It spans :data:`FACE_SQUARE_IOD` (2.8) IODs, so ``IOD = F / 2.8``; the eye midpoint is
  centred horizontally and :data:`EYE_LINE` (0.36) of ``F`` below the square's top.
- With the default ``m = 0.1``: IOD = 0.2857 S, eye midpoint at (0.5 S, 0.388 S), the
  eye centres at (0.357 S, 0.388 S) and (0.643 S, 0.388 S).

On frontal faces (astronaut, Grace Hopper) the brows are about 0.43 IOD above and the
chin 1.73 IOD below the eye line, and the jaw spans +-1.1 IOD, so with ``m = 0.1`` the
brows land near 0.26 S, the chin near 0.88 S and the jaw within 0.19-0.81 S: the whole
face, brows and chin included, is inside the crop with room for a dropped jaw.

Pixels that fall outside the source image are filled by replicating its border
(``cv2.BORDER_REPLICATE``), so a face close to the border still gives a full crop;
:func:`outside_fraction` tells how much of a crop was filled that way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from miex.errors import MiexError
from miex.faces.image import as_rgb

DEFAULT_SIZE = 128
DEFAULT_MARGIN = 0.1
FACE_SQUARE_IOD = 2.8
EYE_LINE = 0.36

Box = tuple[int, int, int, int]


@dataclass(frozen=True, eq=False)
class Face:
    """An aligned face: the crop, its landmarks and how it was made."""

    image: np.ndarray  # (S, S, 3) uint8 RGB aligned square crop
    landmarks: np.ndarray  # (68, 2) float64 crop pixel coords (x, y), dlib/iBUG order
    source: str  # source image path ("" for arrays)
    box: tuple[int, int, int, int]  # detector box (left, top, right, bottom), source coords
    transform: np.ndarray  # (2, 3) float64 similarity: source coords -> crop coords
    n_faces: int = 1  # faces the detector found (the largest was kept)

    @property
    def size(self) -> int:
        return int(self.image.shape[0])


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left-in-image, right-in-image) eye centres: means of points 36-41 and 42-47."""
    pts = _check_landmarks(landmarks)
    return pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)


def canonical_eyes(size: int = DEFAULT_SIZE, margin: float = DEFAULT_MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """Where the two eye centres land in a ``size`` crop (see the module docstring)."""
    size, margin = _check_geometry(size, margin)
    face = size * (1.0 - 2.0 * margin)
    iod = face / FACE_SQUARE_IOD
    mid = np.array([size / 2.0, margin * size + EYE_LINE * face])
    half = np.array([iod / 2.0, 0.0])
    return mid - half, mid + half


def similarity_from_points(src: tuple[np.ndarray, np.ndarray], dst: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, translation) mapping two points onto two."""
    s0, s1 = (np.asarray(p, dtype=np.float64) for p in src)
    d0, d1 = (np.asarray(p, dtype=np.float64) for p in dst)
    vs, vd = s1 - s0, d1 - d0
    ns = float(np.hypot(*vs))
    if ns < 1e-6:
        raise MiexError("cannot align: the two eye centres coincide")
    # complex division gives scale * exp(i * angle)
    z = complex(*vd) / complex(*vs)
    a, b = z.real, z.imag
    lin = np.array([[a, -b], [b, a]])
    t = (d0 + d1) / 2.0 - lin @ ((s0 + s1) / 2.0)
    return np.hstack([lin, t[:, None]])


def transform_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    m = np.asarray(transform, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def alignment_transform(
    landmarks: np.ndarray, *, size: int = DEFAULT_SIZE, margin: float = DEFAULT_MARGIN
) -> np.ndarray:
    """The 2x3 source -> crop similarity that puts the eye centres at :func:`canonical_eyes`."""
    return similarity_from_points(eye_centres(landmarks), canonical_eyes(size, margin))


def apply_alignment(rgb: np.ndarray, transform: np.ndarray, size: int) -> np.ndarray:
    """Warp ``rgb`` with a Face's ``transform`` into a ``size`` x ``size`` crop.

    Used to crop other frames of a clip exactly like its first frame. When the transform
    shrinks the image, the source is first reduced with area averaging (no aliasing);
    when it enlarges, bicubic interpolation is used. Border pixels are replicated.
    """
    import cv2

    img = as_rgb(rgb)
    m = np.asarray(transform, dtype=np.float64)
    if m.shape != (2, 3) or not np.all(np.isfinite(m)):
        raise MiexError(f"transform must be a finite 2x3 matrix, got shape {m.shape}")
    size = int(size)
    if size < 8:
        raise MiexError(f"crop size must be at least 8, got {size}")
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if scale < 1e-6:
        raise MiexError("transform is degenerate (zero scale)")
    flags = cv2.INTER_CUBIC if scale >= 1.0 else cv2.INTER_LINEAR
    if scale < 0.75:
        # area-reduce first so the final warp is close to 1:1 (warpAffine cannot area-average)
        h, w = img.shape[:2]
        nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        fx, fy = nw / w, nh / h
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        # resized pixel x' <-> source x = (x' + 0.5) / fx - 0.5
        back = np.array([[1.0 / fx, 0.0, 0.5 / fx - 0.5], [0.0, 1.0 / fy, 0.5 / fy - 0.5], [0.0, 0.0, 1.0]])
        m = (np.vstack([m, [0.0, 0.0, 1.0]]) @ back)[:2]
    out = cv2.warpAffine(img, m, (size, size), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(out)


def outside_fraction(transform: np.ndarray, source_shape: tuple[int, ...], size: int) -> float:
    """Fraction of the crop's pixels whose source lies outside the source image (border-filled)."""
    m = np.vstack([np.asarray(transform, dtype=np.float64), [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(m)[:2]
    ys, xs = np.mgrid[0:size, 0:size]
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    src = transform_points(inv, pts)
    h, w = source_shape[:2]
    inside = (src[:, 0] >= -0.5) & (src[:, 0] <= w - 0.5) & (src[:, 1] >= -0.5) & (src[:, 1] <= h - 0.5)
    return float(1.0 - inside.mean())


def align_face(
    rgb: np.ndarray,
    landmarks: np.ndarray,
    *,
    size: int = DEFAULT_SIZE,
    margin: float = DEFAULT_MARGIN,
    source: str = "",
    box: Box | None = None,
    n_faces: int = 1,
) -> Face:
    """Align ``rgb`` by its eye centres into a square ``size`` crop (see module docstring).

    ``box`` defaults to the landmarks' bounding box.
    """
    pts = _check_landmarks(landmarks)
    m = alignment_transform(pts, size=size, margin=margin)
    crop = apply_alignment(rgb, m, size)
    if box is None:
        lo, hi = np.floor(pts.min(axis=0)), np.ceil(pts.max(axis=0)) + 1
        box = (int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
    return Face(
        image=crop,
        landmarks=transform_points(m, pts),
        source=str(source),
        box=tuple(int(v) for v in box),  # type: ignore[arg-type]
        transform=m,
        n_faces=int(n_faces),
    )


def _check_landmarks(landmarks: np.ndarray) -> np.ndarray:
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (68, 2) or not np.all(np.isfinite(pts)):
        raise MiexError(f"expected (68, 2) finite landmarks, got shape {pts.shape}")
    return pts


def _check_geometry(size: int, margin: float) -> tuple[int, float]:
    size = int(size)
    if size < 8:
        raise MiexError(f"crop size must be at least 8, got {size}")
    margin = float(margin)
    if not -0.25 <= margin < 0.45:
        raise MiexError(f"margin must be in [-0.25, 0.45), got {margin}")
    return size, margin
