"""Dense-flow tracks of the AU basis' dense points, for the 3D fit's optional refinement.

68 landmarks barely see some AUs (AU6 moves the cheek, AU14 the dimple region, AU7 the lid
surface: :mod:`miex.au.basis` README, "Sanity numbers"). The 452 non-landmark dense points of
the basis cover those regions. :func:`clip_tracks` follows them from the reference frame to
every frame with dense optical flow (Farnebäck, G., "Two-frame motion estimation based on
polynomial expansion", SCIA 2003; OpenCV's implementation):

1. the dense points are placed on the reference face with a thin-plate spline from the
   template landmarks to the reference frame's landmarks;
2. each frame is first aligned to the reference with the similarity between their landmarks
   (so the flow only has to explain the residual motion), both are cropped around the face
   and scaled to :data:`FLOW_IOD` pixels per inter-ocular distance;
3. flow reference -> frame is sampled at the points; a point whose backward flow does not
   return it within :data:`MAX_FB_ERROR` crop pixels is dropped (NaN);
4. positions are mapped back into the frame's pixels.

:func:`miex.au.fit3d.fit_clip` (``tracks=``) adds them to the relative solve. Whether this
helps is measured in ``benchmarks/au_roundtrip.py`` (README, "AU estimation").
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


def _sample(field: np.ndarray, pts: np.ndarray) -> np.ndarray:
    import cv2

    mx = pts[:, 0].astype(np.float32)[None]
    my = pts[:, 1].astype(np.float32)[None]
    return cv2.remap(field, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]


def _crop_transform(points: np.ndarray, scale_iod: float) -> tuple[np.ndarray, tuple[int, int]]:
    """(2, 3) map frame -> crop (scale to FLOW_IOD px / IOD) and the crop size (W, H)."""
    k = FLOW_IOD / scale_iod
    lo = points.min(0) - MARGIN * scale_iod
    hi = points.max(0) + MARGIN * scale_iod
    size = np.ceil((hi - lo) * k).astype(int) + 1
    return np.array([[k, 0.0, -k * lo[0]], [0.0, k, -k * lo[1]]]), (int(size[0]), int(size[1]))


#: Farnebäck parameters (pyramid scale, levels, window, iterations, poly_n, poly_sigma, flags).
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)


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
        """(452, 2) positions in ``rgb`` of the reference's dense points (NaN where the flow
        is not forward-backward consistent)."""
        import cv2

        align = similarity(np.asarray(landmarks, dtype=np.float64), self.landmarks)  # frame -> ref
        full = self.crop @ np.vstack([align, [0.0, 0.0, 1.0]])  # frame -> crop
        b = cv2.warpAffine(_gray(rgb), full, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        fwd = cv2.calcOpticalFlowFarneback(self.grey, b, None, *FARNEBACK)
        bwd = cv2.calcOpticalFlowFarneback(b, self.grey, None, *FARNEBACK)
        pc = self.in_crop
        qc = pc + _sample(fwd, pc)
        back = qc + _sample(bwd, qc)
        bad = np.linalg.norm(back - pc, axis=1) > MAX_FB_ERROR
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
