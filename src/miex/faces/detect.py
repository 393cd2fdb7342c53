"""dlib HOG face detection, 68-point landmarks and the 128-d face descriptor."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from miex.errors import InputError, MiexError
from miex.faces.align import DEFAULT_MARGIN, DEFAULT_SIZE, Face, align_face
from miex.faces.image import as_rgb, load_image
from miex.faces.models import FACE_RECOGNITION_RESNET, SHAPE_PREDICTOR_68, model_path

Box = tuple[int, int, int, int]  # (left, top, right, bottom), right/bottom exclusive

#: Boxes whose area is within this fraction of the largest one count as "about as large";
#: among those the one with the highest detector score wins (the astronaut photo has a
#: false detection on her suit about as large as her face).
NEAR_TIE = 0.10

_lock = threading.Lock()


@lru_cache(maxsize=None)
def _dlib_model(kind: str) -> Any:
    import dlib

    if kind == "hog":
        return _frontal_face_detector()
    if kind == "shape68":
        return dlib.shape_predictor(str(model_path(SHAPE_PREDICTOR_68)))
    if kind == "resnet":
        return dlib.face_recognition_model_v1(str(model_path(FACE_RECOGNITION_RESNET)))
    raise ValueError(kind)


def _frontal_face_detector() -> Any:
    """dlib's HOG frontal-face detector. dlib builds it from its embedded model in about
    0.3 s, which every worker process of ``miex aus extract`` paid; a copy saved in the user
    cache (``$MIEX_CACHE_DIR/dlib``, keyed by dlib's version) loads in 2 ms and finds the same
    boxes with the same scores (tested). An unreadable copy is rebuilt; without a writable
    cache only the time is lost."""
    import dlib

    from miex.io import atomic_path

    path = _detector_copy(dlib.__version__)
    if path is not None and path.is_file():
        try:
            return dlib.fhog_object_detector(str(path))
        except RuntimeError:
            pass  # truncated or foreign file: rebuild it
    detector = dlib.get_frontal_face_detector()
    if path is not None:
        try:
            with atomic_path(path) as tmp:
                detector.save(str(tmp))
        except (OSError, RuntimeError):
            pass
    return detector


def _detector_copy(dlib_version: str) -> Path | None:
    """Where :func:`_frontal_face_detector` keeps its copy (None without a home directory)."""
    from miex.cache import user_cache_dir

    try:
        return user_cache_dir("dlib") / f"frontal_face_detector-{dlib_version}.svm"
    except RuntimeError:
        return None


def _model(kind: str) -> Any:
    with _lock:
        return _dlib_model(kind)


def box_area(box: Box) -> int:
    l, t, r, b = box
    return max(0, r - l) * max(0, b - t)


def order_boxes(boxes: list[Box], scores: list[float]) -> list[tuple[Box, float]]:
    """Largest first; the first entry is the face to keep.

    Boxes within :data:`NEAR_TIE` of the largest area are ranked by detector score first.
    """
    if not boxes:
        return []
    pairs = list(zip(boxes, scores))
    biggest = max(box_area(b) for b in boxes)
    near = [p for p in pairs if box_area(p[0]) >= (1.0 - NEAR_TIE) * biggest]
    keep = max(near, key=lambda p: (p[1], box_area(p[0])))
    rest = sorted((p for p in pairs if p is not keep), key=lambda p: (-box_area(p[0]), -p[1]))
    return [keep] + rest


class FaceDetector:
    """dlib frontal-face HOG detector + 68-point shape predictor + ResNet descriptor.

    Models load lazily on first use and are shared by all instances of a process.
    ``upsample`` doubles the image that many times before detecting: faces down to about
    80 px (0), 40 px (1) or 20 px (2) wide are found; each step costs about 4x the time.
    """

    def __init__(self, upsample: int = 1) -> None:
        if int(upsample) < 0 or int(upsample) > 4:
            raise MiexError(f"upsample must be between 0 and 4, got {upsample}")
        self.upsample = int(upsample)
        self.calls = 0  # detector runs, for tests and cache statistics

    @property
    def settings(self) -> dict[str, Any]:
        """What determines the detector output; part of the landmark cache key."""
        return {"detector": "dlib-hog", "upsample": self.upsample, "landmarks": SHAPE_PREDICTOR_68}

    def detect_scored(self, rgb: np.ndarray) -> list[tuple[Box, float]]:
        """``[(box, score), ...]``, the face to keep first (see :func:`order_boxes`)."""
        img = as_rgb(rgb)
        self.calls += 1
        rects, scores, _ = _model("hog").run(img, self.upsample, 0.0)
        boxes = [(r.left(), r.top(), r.right() + 1, r.bottom() + 1) for r in rects]
        return order_boxes(boxes, [float(s) for s in scores])

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Face boxes ``(left, top, right, bottom)`` (exclusive right/bottom), largest first."""
        return [b for b, _ in self.detect_scored(rgb)]

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """The 68 iBUG landmarks ``(68, 2)`` float64 ``(x, y)`` in image pixels."""
        import dlib

        img = as_rgb(rgb)
        l, t, r, b = (int(v) for v in box)
        shape = _model("shape68")(img, dlib.rectangle(l, t, r - 1, b - 1))
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)

    def embedding(self, rgb: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
        """dlib's 128-d face descriptor (same person: Euclidean distance < 0.6).

        Without ``landmarks`` the face is detected first (:class:`InputError` if none).
        """
        import dlib

        img = as_rgb(rgb)
        if landmarks is None:
            boxes = self.detect(img)
            if not boxes:
                raise InputError("<array>", "no face found")
            landmarks = self.landmarks(img, boxes[0])
        pts = np.asarray(landmarks, dtype=np.float64)
        if pts.shape != (68, 2) or not np.all(np.isfinite(pts)):
            raise MiexError(f"embedding needs (68, 2) finite landmarks, got shape {pts.shape}")
        ipts = np.rint(pts).astype(int)
        (x0, y0), (x1, y1) = ipts.min(axis=0), ipts.max(axis=0)
        rect = dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        shape = dlib.full_object_detection(rect, [dlib.point(int(x), int(y)) for x, y in ipts])
        desc = _model("resnet").compute_face_descriptor(img, shape)
        return np.asarray(desc, dtype=np.float64)


#: A face whose landmarks fall outside the image for more than this fraction of the 68
#: points (or whose eye centres are outside) is rejected as "face cut by the image border".
MAX_OUTSIDE = 0.25

#: Relative border added for the second detection attempt (see :func:`locate_face`).
PAD_RETRY = 0.25


def landmarks_outside(landmarks: np.ndarray, shape: tuple[int, ...]) -> int:
    """How many landmarks lie outside an image of ``shape``."""
    h, w = shape[:2]
    pts = np.asarray(landmarks, dtype=np.float64)
    out = (pts[:, 0] < 0) | (pts[:, 0] > w - 1) | (pts[:, 1] < 0) | (pts[:, 1] > h - 1)
    return int(out.sum())


def check_inside(landmarks: np.ndarray, shape: tuple[int, ...], what: str, max_outside: float = MAX_OUTSIDE) -> None:
    """Raise ``InputError(what, "face cut by the image border: ...")`` if too much is outside."""
    h, w = shape[:2]
    pts = np.asarray(landmarks, dtype=np.float64)
    n_out = landmarks_outside(pts, shape)
    eyes = np.stack([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)])
    eyes_out = bool(np.any((eyes < 0) | (eyes > np.array([w - 1, h - 1]))))
    if eyes_out or n_out > max_outside * len(pts):
        raise InputError(what, f"face cut by the image border: {n_out} of {len(pts)} landmarks outside")


def locate_face(
    rgb: np.ndarray,
    detector: FaceDetector,
    what: str = "<array>",
    max_outside: float = MAX_OUTSIDE,
    pad_retry: bool = True,
) -> tuple[Box, np.ndarray, int]:
    """``(box, landmarks (68, 2) in source pixels, n_faces)`` of the face to keep.

    If nothing is found and ``pad_retry``, detection is retried once on the image padded by
    :data:`PAD_RETRY` of its longer side with replicated border pixels (helps tight crops
    where the face fills the frame); box and landmarks are returned in the original frame.

    Raises ``InputError(what, "no face found")`` or ``"face cut by the image border: ..."``.
    """
    import cv2

    img = as_rgb(rgb, what)
    found = detector.detect_scored(img)
    pad = 0
    if not found and pad_retry:
        # Tight, pre-aligned crops (CelebA 178x218, 112x112) leave HOG too little context
        # around the face; a replicated border restores it.
        pad = int(round(PAD_RETRY * max(img.shape[:2])))
        padded = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        found = [((l - pad, t - pad, r - pad, b - pad), s) for (l, t, r, b), s in detector.detect_scored(padded)]
    if not found:
        raise InputError(what, "no face found")
    box = found[0][0]
    if pad:
        pts = detector.landmarks(padded, tuple(v + pad for v in box)) - pad
    else:
        pts = detector.landmarks(img, box)
    check_inside(pts, np.shape(rgb), what, max_outside)
    return box, pts, len(found)


def detect_face(
    image_or_path,
    *,
    size: int = DEFAULT_SIZE,
    margin: float = DEFAULT_MARGIN,
    detector: FaceDetector | None = None,
    max_outside: float = MAX_OUTSIDE,
) -> Face:
    """Load (if a path), detect, landmark and align one face -> :class:`~miex.faces.align.Face`.

    The largest face is kept (near-ties broken by detector score); ``Face.n_faces`` records
    how many were found. Faces touching the border are cropped with replicated border
    pixels; a face mostly outside the image (see :data:`MAX_OUTSIDE`) is an error.

    Raises :class:`InputError` ``(path, "no face found" | "unreadable image: ..." |
    "face cut by the image border: ...")``.
    """
    if isinstance(image_or_path, (str, os.PathLike)):
        source = str(image_or_path)
        rgb = load_image(image_or_path)
        what = source
    else:
        source, what = "", "<array>"
        rgb = as_rgb(image_or_path)
    det = detector if detector is not None else FaceDetector()
    box, pts, n = locate_face(rgb, det, what, max_outside)
    return align_face(rgb, pts, size=size, margin=margin, source=source, box=box, n_faces=n)
