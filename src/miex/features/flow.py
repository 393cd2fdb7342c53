"""Onset -> apex optical flow, optical strain, and the flow feature maps of STSTNet / OFF-ApexNet.

Flow convention (all methods): ``flow[y, x] = (u, v)`` in pixels, such that
``onset(y, x) ~= apex(y + v, x + u)``; u is horizontal (right = +), v vertical (down = +).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from miex.errors import MiexError

#: Bump when the numbers produced by this module change (part of the feature cache key).
FEATURE_CODE_VERSION = "flow-1"

METHODS = ("tvl1", "farneback", "dis")
CHANNELS = ("u", "v", "strain", "mag", "gray")
NORMALIZATIONS = ("minmax", "none")


def to_gray(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1) or (H, W, 3) RGB -> (H, W) float32 in [0, 1].

    Integer images are divided by their dtype's maximum; float images are taken as [0, 1].
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if np.issubdtype(a.dtype, np.integer):
        a = a.astype(np.float32) / float(np.iinfo(a.dtype).max)
    elif np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32)
    else:
        raise MiexError(f"optical flow needs a numeric image, got dtype {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 3:
        a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
    if a.ndim != 2:
        raise MiexError(f"optical flow needs an (H, W) or (H, W, 3) image, got shape {np.shape(image)}")
    return a


def _to_u8(gray: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(gray * 255.0), 0, 255).astype(np.uint8)


def optical_flow(onset: np.ndarray, apex: np.ndarray, method: str = "tvl1", **params: object) -> np.ndarray:
    """Dense flow from ``onset`` to ``apex`` -> (H, W, 2) float32 (u, v); see the module docstring.

    Frames are converted to grayscale first. Methods:
      * ``"tvl1"``: ``skimage.registration.optical_flow_tvl1`` (the literature's choice; its
        (v, u) row/column output is reordered to (u, v)). ``params`` go to it
        (attachment, tightness, num_warp, num_iter, tol, prefilter).
      * ``"farneback"``: ``cv2.calcOpticalFlowFarneback`` on 8-bit gray; ``params`` override
        pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0.
      * ``"dis"``: ``cv2.DISOpticalFlow`` (preset ``params["preset"]``, default MEDIUM).
    """
    a, b = to_gray(onset), to_gray(apex)
    if a.shape != b.shape:
        raise MiexError(f"onset and apex frames differ in size: {a.shape} vs {b.shape}")
    if min(a.shape) < 8:
        raise MiexError(f"frames of {a.shape[1]}x{a.shape[0]} are too small for optical flow")
    method = str(method).lower()
    if method == "tvl1":
        from skimage.registration import optical_flow_tvl1

        vu = optical_flow_tvl1(a, b, **params)  # type: ignore[arg-type]
        flow = np.stack([vu[1], vu[0]], axis=-1)
    elif method == "farneback":
        opts: dict = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
        unknown = set(params) - set(opts)
        if unknown:
            raise MiexError(f"farneback flow has no option(s) {sorted(unknown)}; options: {sorted(opts)}")
        opts.update(params)
        flow = cv2.calcOpticalFlowFarneback(_to_u8(a), _to_u8(b), None, **opts)
    elif method == "dis":
        preset = params.pop("preset", cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        if params:
            raise MiexError(f"dis flow has no option(s) {sorted(params)}; options: ['preset']")
        flow = cv2.DISOpticalFlow_create(int(preset)).calc(_to_u8(a), _to_u8(b), None)  # type: ignore[arg-type]
    else:
        raise MiexError(f"unknown optical flow method {method!r}; choose one of {', '.join(METHODS)}")
    return np.ascontiguousarray(flow, dtype=np.float32)


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the optical strain tensor of ``flow`` (H, W, 2) -> (H, W) float32.

    With central-difference gradients (``np.gradient``, unit pixel spacing):
    exx = du/dx, eyy = dv/dy, exy = (du/dy + dv/dx) / 2 and
    strain = sqrt(exx^2 + eyy^2 + 2 exy^2), as used by Bi-WOOF and STSTNet. A pure
    translation gives 0; a stretch u = a*x gives |a|.
    """
    f = np.asarray(flow, dtype=np.float64)
    if f.ndim != 3 or f.shape[2] != 2:
        raise MiexError(f"optical strain needs an (H, W, 2) flow field, got shape {f.shape}")
    if min(f.shape[:2]) < 2:
        raise MiexError(f"optical strain needs a flow field of at least 2x2, got {f.shape[:2]}")
    u, v = f[..., 0], f[..., 1]
    du_dy, du_dx = np.gradient(u)
    dv_dy, dv_dx = np.gradient(v)
    exy = 0.5 * (du_dy + dv_dx)
    return np.sqrt(du_dx**2 + dv_dy**2 + 2.0 * exy**2).astype(np.float32)


def resize_map(m: np.ndarray, size: int) -> np.ndarray:
    """Resize one (H, W) map to (size, size) with cv2.INTER_AREA."""
    return cv2.resize(np.ascontiguousarray(m, dtype=np.float32), (int(size), int(size)), interpolation=cv2.INTER_AREA)


def flow_features(
    onset: np.ndarray,
    apex: np.ndarray,
    size: int = 28,
    method: str = "tvl1",
    channels: Sequence[str] = ("u", "v", "strain"),
    normalize: str = "minmax",
    flow: np.ndarray | None = None,
) -> np.ndarray:
    """Flow feature maps of one onset/apex pair -> (C, size, size) float32.

    Flow (and strain, from the flow at full resolution) are computed on the frames as given
    (usually aligned face crops), then each map is resized to ``size`` x ``size`` with
    cv2.INTER_AREA. u and v are rescaled to displacements in output pixels
    (multiplied by size / W and size / H); strain and ``"mag"`` (= sqrt(u^2 + v^2) in output
    pixels) follow. Channels: any of "u", "v", "strain", "mag", and "gray" (the apex frame in
    grayscale, [0, 1] before normalisation: DSSN's grey apex input).

    ``normalize``:
      * ``"minmax"`` (default): each channel is scaled to [0, 1] on its own, per sample
        (a constant channel becomes 0). This matches the STSTNet/OFF-ApexNet inputs, which were
        per-image normalised 8-bit flow images (STSTNet's ``norm_u_v_os``).
      * ``"none"``: physical units (output-pixel displacements, dimensionless strain).

    ``flow`` may pass a precomputed (H, W, 2) onset->apex flow to skip the computation.
    """
    chans = tuple(channels)
    bad = [c for c in chans if c not in CHANNELS]
    if bad or not chans:
        raise MiexError(f"unknown flow feature channel(s) {bad or chans}; choose from {', '.join(CHANNELS)}")
    if normalize not in NORMALIZATIONS:
        raise MiexError(f"unknown flow normalisation {normalize!r}; choose one of {', '.join(NORMALIZATIONS)}")
    size = int(size)
    if size < 1:
        raise MiexError(f"flow feature size must be positive, got {size}")
    f = optical_flow(onset, apex, method=method) if flow is None else np.asarray(flow, dtype=np.float32)
    h, w = f.shape[:2]
    u = resize_map(f[..., 0], size) * (size / w)
    v = resize_map(f[..., 1], size) * (size / h)
    maps: dict[str, np.ndarray] = {"u": u, "v": v}
    if "strain" in chans:
        maps["strain"] = resize_map(optical_strain(f), size)
    if "mag" in chans:
        maps["mag"] = np.sqrt(u**2 + v**2)
    if "gray" in chans:
        maps["gray"] = resize_map(to_gray(apex), size)
    out = np.stack([maps[c] for c in chans]).astype(np.float32)
    if normalize == "minmax":
        lo = out.min(axis=(1, 2), keepdims=True)
        span = out.max(axis=(1, 2), keepdims=True) - lo
        out = np.where(span > 0, (out - lo) / np.where(span > 0, span, 1.0), 0.0).astype(np.float32)
    return out
