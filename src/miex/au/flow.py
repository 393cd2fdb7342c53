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


def track(ref_rgb: np.ndarray, ref_landmarks: np.ndarray, rgb: np.ndarray, landmarks: np.ndarray, ref_points: np.ndarray | None = None) -> np.ndarray:
    """(452, 2) positions in ``rgb`` of the dense points of the reference face (NaN where
    the flow is not consistent)."""
    import cv2

    p0 = reference_points(ref_landmarks) if ref_points is None else ref_points
    crop, size = _crop_transform(np.vstack([p0, ref_landmarks]), iod(ref_landmarks))
    align = similarity(np.asarray(landmarks, dtype=np.float64), np.asarray(ref_landmarks, dtype=np.float64))  # frame -> ref
    full = crop @ np.vstack([align, [0.0, 0.0, 1.0]])  # frame -> crop
    a = cv2.warpAffine(_gray(ref_rgb), crop, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    b = cv2.warpAffine(_gray(rgb), full, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    args = (None, 0.5, 3, 15, 3, 5, 1.2, 0)
    fwd = cv2.calcOpticalFlowFarneback(a, b, *args)
    bwd = cv2.calcOpticalFlowFarneback(b, a, *args)
    pc = apply_affine(crop, p0)
    qc = pc + _sample(fwd, pc)
    back = qc + _sample(bwd, qc)
    bad = np.linalg.norm(back - pc, axis=1) > MAX_FB_ERROR
    q = apply_affine(invert_affine(full), qc)
    q[bad] = np.nan
    return q


def clip_tracks(images, landmarks: np.ndarray, reference: int = 0) -> np.ndarray:
    """(T, 452, 2) tracks of the dense points from frame ``reference`` to every frame.

    ``images``: T RGB frames (arrays, or a callable ``i -> array`` to load them lazily);
    ``landmarks``: (T, 68, 2). Row ``reference`` holds the reference positions.
    """
    get = images if callable(images) else (lambda i: images[i])
    ref_rgb = get(reference)
    ref_lm = np.asarray(landmarks[reference], dtype=np.float64)
    p0 = reference_points(ref_lm)
    out = np.empty((len(landmarks), p0.shape[0], 2))
    for i in range(len(landmarks)):
        out[i] = p0 if i == reference else track(ref_rgb, ref_lm, get(i), landmarks[i], p0)
    return out
