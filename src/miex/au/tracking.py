"""A clip's 68 landmarks with one face detection: the shape predictor follows the face.

dlib's HOG detector costs 40-130 ms on a 640x480 frame (upsample 0-1), its shape predictor
about 1 ms. In a micro-expression clip the face barely moves, so :class:`ClipTracker`
detects the face on the first frame only and gives every following frame a box taken from
the previous frame's landmarks (the same box-to-landmark relation the detector gave on the
frame it last ran: :class:`BoxFit`). Tracking has failed, and the frame is detected again,
when the box leaves the frame, the landmarks fall outside it (:func:`check_inside`), the
shape changes more than a face does between frames (:data:`MAX_SHAPE_CHANGE`,
:data:`MAX_SCALE_CHANGE`) or the face patch under the new landmarks does not look like the
previous one (:data:`MIN_PATCH_NCC`: landmarks the predictor put on the background). A frame
where that detection finds no face raises :class:`InputError` as every-frame detection does.

``mode="every"`` detects on every frame (the behaviour before tracking; ``--detect every``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from miex.au.basis import apply_affine, iod, load_basis, similarity
from miex.errors import InputError, MiexError

#: Ways to find the face in each frame of a clip (see the module docstring).
DETECT_MODES: tuple[str, ...] = ("track", "every")
DEFAULT_DETECT = "track"

#: Landmarks are re-detected on an upscaled face so the box is at least this wide (px):
#: dlib returns integer pixel positions, a quantisation as large as a micro-expression at
#: 128 px (see :func:`precise_landmarks`).
PRECISE_BOX = 400
#: Margin (fraction of the box width, each side) of the face region that is upscaled for
#: :func:`precise_landmarks`. dlib's predictor reads pixels near the face only: from 0.3 up
#: the landmarks equal those of a 0.5 margin (the region upscaled before issue 15) on the
#: fixture recordings and on a photo rolled by up to 25 degrees at three scales; 0.25 moves
#: them by up to 1.3 px. 0.35 upscales 28 % fewer pixels than 0.5.
PRECISE_MARGIN = 0.35

#: Largest RMS change (IOD) of the similarity-aligned landmarks between consecutive frames
#: that still counts as the same face tracked.
MAX_SHAPE_CHANGE = 0.12
#: Largest relative change of the landmarks' scale between consecutive frames.
MAX_SCALE_CHANGE = 0.2
#: Smallest normalised cross-correlation of the face patches (:func:`face_patch`) of
#: consecutive frames that still counts as the same face tracked.
MIN_PATCH_NCC = 0.7
#: Side (px) of the face patch compared between frames.
PATCH_PX = 24


def check_detect(mode: str | None) -> str:
    """The detection mode to use; :class:`MiexError` for unknown names."""
    mode = DEFAULT_DETECT if mode is None else str(mode).lower()
    if mode not in DETECT_MODES:
        raise MiexError(f"face detection mode must be one of {', '.join(DETECT_MODES)}, got {mode!r}")
    return mode


def precise_landmarks(rgb: np.ndarray, box, detector=None, min_box: int = PRECISE_BOX) -> np.ndarray:
    """dlib's 68 landmarks with sub-pixel resolution: the face region (box grown by
    :data:`PRECISE_MARGIN` of its width on each side) is upscaled (bicubic) until the box is
    ``min_box`` px wide, landmarked there and mapped back. dlib rounds landmarks to whole
    pixels of the image it sees. ``box`` may have fractional corners (a tracked box); they keep
    their fraction in the upscaled patch."""
    import cv2

    from miex.faces import FaceDetector

    det = detector if detector is not None else FaceDetector()
    l, t, r, b = (float(v) for v in box)
    bw = max(int(r) - int(l), 1)
    k = int(np.clip(np.ceil(min_box / bw), 1, 8))
    if k == 1:
        return det.landmarks(rgb, tuple(int(round(v)) for v in (l, t, r, b)))
    H, W = rgb.shape[:2]
    m = int(PRECISE_MARGIN * bw)
    x0, y0 = max(int(l) - m, 0), max(int(t) - m, 0)
    x1, y1 = min(int(r) + m, W), min(int(b) + m, H)
    patch = cv2.resize(np.ascontiguousarray(rgb[y0:y1, x0:x1]), None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
    big_box = tuple(int(round(v)) for v in ((l - x0) * k, (t - y0) * k, (r - x0) * k, (b - y0) * k))
    pts = det.landmarks(patch, big_box)
    return (pts + 0.5) / k - 0.5 + np.array([x0, y0], dtype=np.float64)


def _centre_scale(pts: np.ndarray) -> tuple[np.ndarray, float]:
    """Centroid and RMS radius of a landmark set (a stable size: all 68 points)."""
    centre = pts.mean(axis=0)
    return centre, float(np.sqrt(((pts - centre) ** 2).sum(axis=1).mean()))


@dataclass(frozen=True)
class BoxFit:
    """Where the detector's box sat relative to the landmarks it gave: the box centre's
    offset from the landmark centroid and the box size, both in units of the landmarks' RMS
    radius. :meth:`box` places such a box on other landmarks."""

    offset: np.ndarray  # (2,)
    size: np.ndarray  # (2,) width, height

    @classmethod
    def of(cls, box, pts: np.ndarray) -> "BoxFit":
        centre, scale = _centre_scale(pts)
        l, t, r, b = (float(v) for v in box)
        return cls((np.array([(l + r) / 2, (t + b) / 2]) - centre) / scale, np.array([r - l, b - t]) / scale)

    def box(self, pts: np.ndarray) -> tuple[float, float, float, float]:
        centre, scale = _centre_scale(pts)
        c = centre + self.offset * scale
        half = self.size * scale / 2
        return (float(c[0] - half[0]), float(c[1] - half[1]), float(c[0] + half[0]), float(c[1] + half[1]))


def face_patch(rgb: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(PATCH_PX, PATCH_PX) grey face under the landmarks (the template's face mapped onto
    the patch by the landmark similarity), zero-mean and unit-norm for :func:`patch_ncc`."""
    import cv2

    template = load_basis().template
    lo, hi = template.min(axis=0), template.max(axis=0)
    canon = (template - lo) / (hi - lo).max() * (PATCH_PX - 1)
    sim = similarity(pts, canon)
    img = np.ascontiguousarray(rgb)
    patch = cv2.warpAffine(img, sim, (PATCH_PX, PATCH_PX), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    grey = patch.astype(np.float64).mean(axis=2) if patch.ndim == 3 else patch.astype(np.float64)
    grey -= grey.mean()
    return grey / max(float(np.linalg.norm(grey)), 1e-9)


def patch_ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two :func:`face_patch` results."""
    return float((a * b).sum())


def shape_change(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """(RMS change in IOD after the best similarity, relative scale change) between two
    landmark sets of consecutive frames."""
    sim = similarity(after, before)
    moved = apply_affine(sim, after)
    rms = float(np.sqrt(((moved - before) ** 2).sum(axis=1).mean())) / max(iod(before), 1e-9)
    return rms, abs(1.0 / float(np.hypot(*sim[:, 0])) - 1.0)


@dataclass
class _Followed:
    fit: BoxFit
    landmarks: np.ndarray
    patch: np.ndarray


class ClipTracker:
    """Landmarks of consecutive frames of one clip (see the module docstring).

    ``detections`` counts the frames on which the detector ran (first frame and re-detections).
    """

    def __init__(self, detector=None, mode: str | None = None) -> None:
        from miex.faces import FaceDetector

        self.detector = detector if detector is not None else FaceDetector()
        self.mode = check_detect(mode)
        self.detections = 0
        self._last: _Followed | None = None

    def landmarks(self, rgb: np.ndarray, what: str = "<array>") -> np.ndarray:
        """(68, 2) sub-pixel landmarks of the face in ``rgb``; :class:`InputError` (``what``,
        "no face found" / "face cut by the image border") when there is none."""
        if self.mode == "track" and self._last is not None:
            pts = self._follow(rgb)
            if pts is not None:
                return pts
        return self._detect(rgb, what)

    def _detect(self, rgb: np.ndarray, what: str) -> np.ndarray:
        from miex.faces import locate_face

        self.detections += 1
        box, _, _ = locate_face(rgb, self.detector, what)
        pts = precise_landmarks(rgb, box, self.detector)
        if self.mode == "track":
            self._last = _Followed(BoxFit.of(box, pts), pts, face_patch(rgb, pts))
        return pts

    def _follow(self, rgb: np.ndarray) -> np.ndarray | None:
        """Landmarks from the box of the previous frame's landmarks, or None when tracking failed."""
        from miex.faces.detect import check_inside

        last = self._last
        assert last is not None
        box = last.fit.box(last.landmarks)
        h, w = rgb.shape[:2]
        if box[0] < 0 or box[1] < 0 or box[2] > w or box[3] > h:
            return None
        pts = precise_landmarks(rgb, box, self.detector)
        try:
            check_inside(pts, rgb.shape, "<tracked>")
        except InputError:
            return None
        rms, scale = shape_change(last.landmarks, pts)
        if rms > MAX_SHAPE_CHANGE or scale > MAX_SCALE_CHANGE:
            return None
        patch = face_patch(rgb, pts)
        if patch_ncc(patch, last.patch) < MIN_PATCH_NCC:
            return None
        self._last = _Followed(last.fit, pts, patch)
        return pts


__all__ = [
    "BoxFit",
    "ClipTracker",
    "DEFAULT_DETECT",
    "DETECT_MODES",
    "MAX_SCALE_CHANGE",
    "MAX_SHAPE_CHANGE",
    "MIN_PATCH_NCC",
    "PRECISE_BOX",
    "check_detect",
    "face_patch",
    "patch_ncc",
    "precise_landmarks",
    "shape_change",
]
