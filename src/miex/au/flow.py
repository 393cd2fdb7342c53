"""Optical-flow tracks of the AU basis' dense points, for the 3D fit's optional refinement.

68 landmarks barely see some AUs (AU6 moves the cheek, AU14 the dimple region, AU7 the lid
surface: :mod:`miex.au.basis` README, "Sanity numbers"). The 452 non-landmark dense points of
the basis cover those regions. :func:`clip_tracks` follows them from the reference frame to
every frame with sparse pyramidal Lucas-Kanade flow at the points (Bouguet, J.-Y., "Pyramidal
implementation of the affine Lucas Kanade feature tracker", Intel, 2001; OpenCV's
``calcOpticalFlowPyrLK``):

1. the dense points are placed on the reference face with a thin-plate spline from the
   template landmarks to the reference frame's landmarks;
2. each frame is first aligned to the reference with the similarity between their landmarks
   (so the flow only has to explain the residual motion), both are cropped around the face
   and scaled to :data:`FLOW_IOD` pixels per inter-ocular distance;
3. the points are tracked reference -> frame and back (:data:`LK_WINDOW`, :data:`LK_LEVELS`,
   :data:`LK_CRITERIA`); a point that LK loses either way, or whose backward track does not
   return it within :data:`MAX_FB_ERROR` crop pixels, is dropped (NaN);
4. positions are mapped back into the frame's pixels.

:func:`miex.au.fit3d.fit_clip` (``tracks=``) adds them to the relative solve. Whether this
helps is measured in ``benchmarks/au_roundtrip.py`` (README, "AU estimation").

Until issue 15 the tracks came from two dense Farnebäck flows of the crop (forward and
backward, sampled at the points: 20-30 ms a frame). LK at the points is about 7x cheaper and
tracks better: on frontal warp renders with the generator's own point motion as truth the
median end-point error was 0.18 crop px against Farnebäck's 0.27, and the
``3d relative + flow`` round trip at MiE intensities improved in r and slope in every pose
condition (README, "Performance"). The window (9 px, 1/7 IOD) is the one that tracked
best on those renders (5-31 px tried; 5 loses more points to the consistency check, larger
windows average over neighbouring, differently moving skin); three pyramid levels cover the
residual motion left after the alignment of step 2 when the head turns.
"""

from __future__ import annotations

import numpy as np

from miex.au.basis import apply_affine, invert_affine, iod, load_basis, similarity, tps_eval, tps_fit

#: Crop scale for the flow (pixels per inter-ocular distance).
FLOW_IOD = 64.0
#: Forward-backward consistency limit (crop pixels).
MAX_FB_ERROR = 1.0
#: Crop margin around the dense points (IOD).
MARGIN = 0.3


def reference_points(landmarks: np.ndarray) -> np.ndarray:
    """(452, 2) image positions of the non-landmark dense points on a face with these
    (68, 2) landmarks (thin-plate spline template -> landmarks)."""
    basis = load_basis()
    lm = np.asarray(landmarks, dtype=np.float64)
    sim = similarity(basis.template, lm)
    local = apply_affine(invert_affine(sim), lm)  # landmarks in template units
    coef = tps_fit(basis.template, local - basis.template, smoothing=1e-4)
    pts = basis.dense_points[68:]
    return apply_affine(sim, pts + tps_eval(basis.template, coef, pts))


def _gray(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def _crop_transform(points: np.ndarray, scale_iod: float) -> tuple[np.ndarray, tuple[int, int]]:
    """(2, 3) map frame -> crop (scale to FLOW_IOD px / IOD) and the crop size (W, H)."""
    k = FLOW_IOD / scale_iod
    lo = points.min(0) - MARGIN * scale_iod
    hi = points.max(0) + MARGIN * scale_iod
    size = np.ceil((hi - lo) * k).astype(int) + 1
    return np.array([[k, 0.0, -k * lo[0]], [0.0, k, -k * lo[1]]]), (int(size[0]), int(size[1]))


#: Lucas-Kanade window (crop pixels, square).
LK_WINDOW = 9
#: Pyramid levels above the crop (0: the crop only).
LK_LEVELS = 3
#: LK stop criteria per level: (type, iterations, step in px) as OpenCV takes them
#: (``cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS``, OpenCV's default 30 iterations / 0.01 px).
LK_CRITERIA = (3, 30, 0.01)


def _lk(a: np.ndarray, b: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``b`` of ``pts`` (N, 2) of ``a`` and whether LK found them."""
    import cv2

    p = np.ascontiguousarray(pts, dtype=np.float32).reshape(-1, 1, 2)
    q, status, _ = cv2.calcOpticalFlowPyrLK(a, b, p, None, winSize=(LK_WINDOW, LK_WINDOW), maxLevel=LK_LEVELS, criteria=LK_CRITERIA)
    return q.reshape(-1, 2).astype(np.float64), status.ravel() == 1


class FlowReference:
    """The reference frame of a clip's tracks, prepared once: its dense points
    (:attr:`points`, image pixels), the face crop and the grey reference crop."""

    def __init__(self, rgb: np.ndarray, landmarks: np.ndarray, points: np.ndarray | None = None) -> None:
        import cv2

        self.landmarks = np.asarray(landmarks, dtype=np.float64)
        self.points = reference_points(self.landmarks) if points is None else np.asarray(points, dtype=np.float64)
        self.crop, self.size = _crop_transform(np.vstack([self.points, self.landmarks]), iod(self.landmarks))
        self.grey = cv2.warpAffine(_gray(rgb), self.crop, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self.in_crop = apply_affine(self.crop, self.points)

    def track(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """(452, 2) positions in ``rgb`` of the reference's dense points (NaN where the track
        is lost or not forward-backward consistent)."""
        import cv2

        align = similarity(np.asarray(landmarks, dtype=np.float64), self.landmarks)  # frame -> ref
        full = self.crop @ np.vstack([align, [0.0, 0.0, 1.0]])  # frame -> crop
        b = cv2.warpAffine(_gray(rgb), full, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        pc = self.in_crop
        qc, found = _lk(self.grey, b, pc)
        back, returned = _lk(b, self.grey, qc)
        bad = ~found | ~returned | ~(np.linalg.norm(back - pc, axis=1) <= MAX_FB_ERROR)
        q = apply_affine(invert_affine(full), qc)
        q[bad] = np.nan
        return q


def track(ref_rgb: np.ndarray, ref_landmarks: np.ndarray, rgb: np.ndarray, landmarks: np.ndarray, ref_points: np.ndarray | None = None) -> np.ndarray:
    """(452, 2) positions in ``rgb`` of the dense points of the reference face (NaN where
    the flow is not consistent); see :class:`FlowReference` to track many frames."""
    return FlowReference(ref_rgb, ref_landmarks, ref_points).track(rgb, landmarks)


def clip_tracks(images, landmarks: np.ndarray, reference: int = 0) -> np.ndarray:
    """(T, 452, 2) tracks of the dense points from frame ``reference`` to every frame.

    ``images``: T RGB frames (arrays, or a callable ``i -> array`` to load them lazily);
    ``landmarks``: (T, 68, 2). Row ``reference`` holds the reference positions.
    """
    get = images if callable(images) else (lambda i: images[i])
    ref = FlowReference(get(reference), landmarks[reference])
    out = np.empty((len(landmarks), ref.points.shape[0], 2))
    for i in range(len(landmarks)):
        out[i] = ref.points if i == reference else ref.track(get(i), landmarks[i])
    return out
