"""Posed test frames from one real photo: warp-rendered AUs, then head yaw and roll.

Used to validate the AU estimator across head poses (``benchmarks/au_roundtrip.py``,
``tests/au/test_fit3d.py``). A frame is made in three steps:

1. the warp generator renders AU vector ``z`` on the aligned face crop
   (:mod:`miex.generators.warp`);
2. the crop is pasted into a ``640 x 480`` frame (a blurred, enlarged copy of the crop is the
   background, the crop edge is feathered), the face being a part of the frame as in CASME II
   or SAMM recordings;
3. **yaw** by a 3D rotation of the face: the 520 dense points get depth from the 3D template
   (:mod:`miex.au.model3d`, IOD units times the face's pixel scale), are turned about a
   vertical axis :data:`PIVOT_DEPTH` IOD behind the eyes and projected orthographically; the
   image follows with a thin-plate warp (dense points -> their rotated positions; a ring of
   anchors 2.2 IOD from the face centre stays put). Self-occlusion is not modelled (at 30 deg
   the far cheek is compressed, not hidden). **Roll** is an image rotation about the face centre.

What this cannot check: real 3D appearance change (the nose hiding the far cheek), perspective,
lighting, and dlib's jaw-contour sliding on a real turned head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from miex.au.basis import apply_affine, load_basis, similarity, tps_eval, tps_fit
from miex.au.model3d import load_face_model

FRAME_SIZE = (640, 480)  # (W, H)
#: Depth (IOD, behind the eye plane) of the vertical axis the head turns about.
PIVOT_DEPTH = 1.2
#: Coarse grid (nodes per side) on which the yaw warp is evaluated before upsampling.
WARP_GRID = 48


@dataclass
class PosedFace:
    """A face prepared for posed rendering."""

    crop: np.ndarray  # (S, S, 3) aligned crop
    prepared: object  # the warp generator's per-face state
    offset: np.ndarray  # (2,) crop origin in the frame
    background: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (S, S, 1) float feathered paste mask
    dense_map: np.ndarray  # (2, 3) similarity template -> frame pixels
    iod_px: float


def prepare_posed(face, generator) -> PosedFace:
    """Per-face state for :func:`render_posed` (``face``: a :class:`miex.faces.Face`)."""
    import cv2

    W, H = FRAME_SIZE
    crop = np.ascontiguousarray(face.image)
    S = crop.shape[0]
    bg = cv2.resize(cv2.GaussianBlur(crop, (0, 0), S / 16), (W, H), interpolation=cv2.INTER_LINEAR)
    off = np.array([(W - S) // 2, (H - S) // 2], dtype=np.float64)
    ramp = np.clip(np.minimum(np.arange(S), np.arange(S)[::-1]) / (0.08 * S), 0.0, 1.0)
    mask = (np.minimum(ramp[:, None], ramp[None, :]))[..., None]
    sim = similarity(load_basis().template, np.asarray(face.landmarks) + off)
    return PosedFace(crop, generator.prepare(face), off, bg, mask, sim, float(np.hypot(*sim[:, 0])))


def _paste(pf: PosedFace, crop: np.ndarray) -> np.ndarray:
    frame = pf.background.astype(np.float64).copy()
    S = crop.shape[0]
    x, y = int(pf.offset[0]), int(pf.offset[1])
    region = frame[y : y + S, x : x + S]
    frame[y : y + S, x : x + S] = pf.mask * crop + (1 - pf.mask) * region
    return frame


def _yaw_map(pf: PosedFace, z: np.ndarray, yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps (H, W) float32 for a yaw of ``yaw`` degrees."""
    import cv2

    model = load_face_model()
    pts3 = model.dense_template + np.tensordot(z, model.dense_expressions, axes=1)
    src = apply_affine(pf.dense_map, pts3[:, :2])
    depth = pts3[:, 2] * pf.iod_px
    centre = apply_affine(pf.dense_map, np.array([[0.0, 0.45]]))[0]
    a = np.radians(yaw)
    dx, dz = src[:, 0] - centre[0], depth - PIVOT_DEPTH * pf.iod_px
    dst = src.copy()
    dst[:, 0] = centre[0] + np.cos(a) * dx + np.sin(a) * dz
    theta = np.linspace(0.0, 2.0 * np.pi, 24, endpoint=False)
    ring = centre + 2.2 * pf.iod_px * np.stack([np.cos(theta), 1.15 * np.sin(theta)], 1)
    ctrl = np.vstack([dst, ring])
    values = np.vstack([src - dst, np.zeros_like(ring)])
    scale = pf.iod_px
    coef = tps_fit(ctrl / scale, values, smoothing=1e-4)
    W, H = FRAME_SIZE
    gx, gy = np.linspace(0, W - 1, WARP_GRID), np.linspace(0, H - 1, WARP_GRID)
    grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    disp = tps_eval(ctrl / scale, coef, grid / scale).reshape(WARP_GRID, WARP_GRID, 2)
    # the spline is only meant near the face: fade it out beyond the anchor ring
    r = np.hypot((grid[:, 0] - centre[0]) / (2.2 * scale), (grid[:, 1] - centre[1]) / (2.53 * scale))
    disp *= np.clip(1.5 - 0.5 * r, 0.0, 1.0).reshape(WARP_GRID, WARP_GRID, 1) ** 2 * (r <= 3).reshape(WARP_GRID, WARP_GRID, 1)
    full = cv2.resize(disp.astype(np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
    px, py = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    return px + full[..., 0], py + full[..., 1]


def render_posed(pf: PosedFace, generator, z: np.ndarray, yaw: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """(480, 640, 3) uint8 frame of the face with AUs ``z``, turned by ``yaw`` and tilted by
    ``roll`` degrees (positive yaw moves the nose towards the image left)."""
    import cv2

    z = np.asarray(z, dtype=np.float64)
    frame = _paste(pf, generator.render(pf.prepared, z)).astype(np.float32)
    if yaw:
        mx, my = _yaw_map(pf, z, yaw)
        frame = cv2.remap(frame, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if roll:
        centre = apply_affine(pf.dense_map, np.array([[0.0, 0.45]]))[0]
        rot = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(roll), 1.0)
        frame = cv2.warpAffine(frame, rot, FRAME_SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.clip(np.round(frame), 0, 255).astype(np.uint8)
