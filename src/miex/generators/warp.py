"""Training-free, AU-driven face warp (the default generator).

How a frame is made
-------------------
1. **One global table** (built once, ~2 s, then read from a disk cache): for each of the
   17 AUs a dense displacement field ``f_k(u)`` in the *template frame* (IOD units, see :mod:`miex.au.basis`),
   sampled on a 0.02-IOD grid. ``f_k`` is a thin-plate spline through the 520 dense basis
   points, plus two rings of zero-displacement anchors 0.3 and 0.7 IOD outside the face hull,
   and is tapered to exactly zero beyond the outer ring. The spline is fitted once because
   its control points are the same for every face in this frame; the heavy part of the
   interpolation (the 700-point kernel) is never repeated per face.
   The closed mouth is a slit (inner lips 0.012 IOD apart) that opens for AU25/AU26/AU10/AU9:
   one spline through both lips overshoots 30-70 %, so the table joins two splines -- one
   without the lower inner lip, one without the upper -- along the lip line (a tear, as in a
   real mouth opening).
2. **Per face** (``prepare``, ~3-6 ms): a least-squares similarity template 68 -> detected
   68 (crop pixels) plus a thin-plate residual, fitted so that the template landmarks land
   on the detected ones (evaluated on a 17 x 17 lattice, interpolated). Its inverse (crop -> template) is evaluated on a coarse grid
   of crop nodes (``grid`` nodes along each side, default 64), where the table is sampled
   bilinearly; displacements are mapped to crop pixels with the similarity's rotation and
   scale. The field is multiplied by a smooth taper to zero within ``border`` of the crop
   edge (anchored border; matters only for tight crops). Result: 17 coarse fields
   ``F_k`` (grid x grid x 2, float32, crop pixels at intensity 1).
3. **Per frame** (``render``): forward field ``D = sum_k z_k F_k`` (exactly linear in ``z``,
   exactly zero at ``z = 0``; ``z = 0`` also short-circuits to a copy of the crop);
   fold-over guard; inverse on the coarse nodes; bilinear upsampling of the inverse
   displacement to full resolution; one ``cv2.remap``. The node and pixel steps are compiled
   (:mod:`miex.generators.warp_kernels`, one call per frame).

Backward mapping and linearity
------------------------------
The basis gives forward displacements: source point ``p`` moves to ``q = p + D(p)``.
``cv2.remap`` needs, for each output pixel ``q``, its source ``p(q)``: the inverse map
``p = q - E(q)`` with ``E(q) = D(q - E(q))``. On the coarse nodes it is solved exactly for the
piecewise-linear forward warp (two triangles per cell): from the first-order guess
``p = q - D(q)`` each node takes the triangle holding ``p``, solves ``q`` under that
triangle's affine map, and stops when the solution lies in the same triangle (a Newton step
of the piecewise-affine map; one to three steps at MiE displacements). A walk that cycles
searches the triangles around it; nodes still unsettled (none were seen in the benchmarks)
are solved by scanning every forward-mapped triangle near them. ``D`` is exactly linear in
``z``; its inverse is linear only to first order (``E = D - (dD) D + O(|z|^3)``), i.e. at MiE
intensities (1-3 px) ``E`` and ``D`` differ by a fraction of a pixel; tests check linearity
on ``D`` and exactness of the inverse against the exhaustive scan.

Fold-overs and large ``z``
--------------------------
Sums of rows at large intensity can fold (AU45 at 1.0 closes the eye completely, so the lid
region's Jacobian determinant reaches 0; at 5.0 everything folds). Before inversion the
determinant of ``p -> p + D(p)`` is computed on both triangles of every cell; where it is
below ``min_det`` (0.1) the field is scaled down locally by the exact largest factor that
keeps it at ``min_det`` (the determinant is quadratic in the factor), the factors are spread
to the neighbouring nodes and smoothed, and the check repeats; a global factor is the last
resort. Every forward triangle then keeps its orientation, so the inverse is a bijection.
The final map is clamped to the image: no output pixel samples outside the crop (no holes,
no NaN for any finite ``z``), and the outermost ring of nodes never moves (anchored border).

Determinism
-----------
The table and basis are built with single-threaded BLAS, the weighted sum is accumulated AU
by AU and the compiled kernels run in a fixed order without fast-math, so a frame has the
same bytes in every process and thread configuration of one machine.

Appearance cues
---------------
None. The warp is purely geometric: AU45 closes the eye by moving the upper lid (in the
basis), which reads as a blink at high intensity; wrinkles or shading for AU6/AU9/AU12 are
not synthesised -- at MiE intensities (0.1-0.3) they are invisible at 128 px, and a shading
model that is not calibrated per face (skin tone, lighting direction) would add identity-
and lighting-dependent artefacts that a recognition model could learn as a shortcut.
No mouth interior (teeth) is synthesised either: opening AUs stretch the lip line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from miex.au.basis import (
    AUBasis,
    LIP_PAIRS,
    apply_affine,
    invert_affine,
    load_basis,
    similarity,
    single_threaded_blas,
    squared_distances,
    tps_fit,
)
from miex.au.space import N_AUS, validate_z
from miex.errors import MiexError
from miex.generators import warp_kernels as kernels
from miex.generators.base import Generator

#: Zero-displacement anchor rings, IOD outside the convex hull of the dense points.
ANCHOR_MARGINS = (0.3, 0.7)
#: Spacing of the anchor points along each ring (IOD).
ANCHOR_SPACING = 0.12
#: Resolution of the global template-frame table (IOD per cell).
TABLE_RES = 0.02
#: The residual (face-shape) spline is anchored to zero on a circle of this radius (IOD).
RESIDUAL_ANCHOR_RADIUS = 3.0
#: Detected landmarks closer than this (IOD) are merged for the residual spline.
MERGE_DISTANCE = 0.005
#: The residual is smooth (a few % IOD): evaluated on this many points per crop side and
#: interpolated bilinearly to the coarse nodes.
RESIDUAL_GRID = 17


# --------------------------------------------------------------------------- kernels


def _tps_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """U(r) = r^2 log r for all pairs, float32 (points are O(1) IOD apart, so the
    expansion |a|^2 + |b|^2 - 2ab loses nothing that matters: < 1e-6 IOD)."""
    a = a.astype(np.float32, copy=False)
    b = b.astype(np.float32, copy=False)
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :]
    d2 -= 2.0 * (a @ b.T)
    np.maximum(d2, 1e-20, out=d2)
    out = np.log(d2)
    out *= d2
    out *= 0.5
    return out


def _tps_eval(ctrl: np.ndarray, coef: np.ndarray, at: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Evaluate a spline from :func:`miex.au.basis.tps_fit` (float32 kernel, float64 sums)."""
    n = ctrl.shape[0]
    res = np.empty((at.shape[0], coef.shape[1]))
    w = coef[:n].astype(np.float32)
    for i in range(0, at.shape[0], chunk):
        a = at[i : i + chunk]
        res[i : i + chunk] = _tps_kernel(a, ctrl) @ w + coef[n] + a @ coef[n + 1 :]
    return res


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# --------------------------------------------------------------------------- template table


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull vertices (counter-clockwise in a y-up sense irrelevant here)."""
    from scipy.spatial import ConvexHull

    return points[ConvexHull(points).vertices]


def _offset_ring(hull: np.ndarray, margin: float, spacing: float) -> np.ndarray:
    """Points every ``spacing`` along the boundary of the hull grown by ``margin``."""
    theta = np.linspace(0.0, 2.0 * np.pi, 48, endpoint=False)
    disk = margin * np.stack([np.cos(theta), np.sin(theta)], 1)
    poly = _hull((hull[:, None, :] + disk[None]).reshape(-1, 2))
    poly = np.vstack([poly, poly[:1]])
    s = np.r_[0.0, np.cumsum(np.hypot(*np.diff(poly, axis=0).T))]
    t = np.arange(0.0, s[-1], spacing)
    return np.stack([np.interp(t, s, poly[:, 0]), np.interp(t, s, poly[:, 1])], 1)


def _hull_distance(hull: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Distance outside a convex polygon (max over edge half-planes; 0 inside-ish, <0 inside)."""
    centre = hull.mean(0)
    a, b = hull, np.roll(hull, -1, axis=0)
    edge = b - a
    normal = np.stack([edge[:, 1], -edge[:, 0]], 1)
    normal /= np.hypot(*normal.T)[:, None]
    # orient outwards
    sign = np.sign(((a - centre) * normal).sum(1))
    normal *= sign[:, None]
    return ((pts[:, None, :] - a[None]) * normal[None]).sum(-1).max(1)


@dataclass(frozen=True)
class TemplateTable:
    """Per-AU displacement fields in the template frame, sampled on a regular grid."""

    origin: np.ndarray  # (2,) template coords of cell (0, 0)
    res: float  # IOD per cell
    table: np.ndarray  # (Ht, Wt, 2 * N_AUS) float32: [dx_AU0, dy_AU0, dx_AU1, ...]

    def sample(self, u: np.ndarray) -> np.ndarray:
        """Bilinear lookup at template points ``u`` (..., 2) -> (..., 2 * N_AUS); zero outside."""
        import cv2

        shape = u.shape[:-1]
        flat = u.reshape(-1, 2)
        mx = ((flat[:, 0] - self.origin[0]) / self.res).astype(np.float32).reshape(-1, 1)
        my = ((flat[:, 1] - self.origin[1]) / self.res).astype(np.float32).reshape(-1, 1)
        out = cv2.remap(self.table, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return out.reshape(*shape, self.table.shape[-1])


def _mouth_blend(points: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Weight of the 'upper lip' spline at template points ``u`` (n, 2).

    1 above and 0 below the closed-lip line between the inner mouth corners (a sharp switch:
    the tear that opens the mouth), 0.5 (the mean of both splines) away from the mouth.
    """
    from miex.au.basis import _mouth_line_y

    x, y = u[:, 0], u[:, 1]
    line = _mouth_line_y(points, x)
    xc = points[64, 0]
    near_x = _smoothstep((xc - np.abs(x)) / 0.05)
    near_y = _smoothstep((0.35 - np.abs(y - line)) / 0.2)
    side = np.where(y < line, 0.5, -0.5)
    return 0.5 + side * near_x * near_y


def _cache_file() -> "Path | None":
    """Disk cache of the table: ``$MIEX_CACHE_DIR/warp`` (or ``$XDG_CACHE_HOME/miex/warp``,
    ``~/.cache/miex/warp``), keyed by a hash of the calibrated basis, the constants and the
    source of the functions that build the table, so any change rebuilds it."""
    import hashlib
    import inspect

    from miex.cache import user_cache_dir

    basis = load_basis()
    h = hashlib.sha256()
    for arr in (basis.dense_points, basis.dense):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(repr((ANCHOR_MARGINS, ANCHOR_SPACING, TABLE_RES, np.__version__.split(".")[0])).encode())
    for fn in (_build_table, _mouth_blend, _offset_ring, _hull, _hull_distance, _tps_eval, _tps_kernel, tps_fit):
        h.update(inspect.getsource(fn).encode())
    return user_cache_dir("warp") / f"table-{h.hexdigest()[:16]}.npz"


@lru_cache(maxsize=1)
def template_table() -> TemplateTable:
    """The global per-AU field table: built once (~1-3 s), then read from the disk cache."""
    try:
        path = _cache_file()
    except (OSError, RuntimeError):  # pragma: no cover - no home directory
        path = None
    if path is not None and path.is_file():
        try:
            with np.load(path) as data:
                table = data["table"].astype(np.float32)
                table.setflags(write=False)
                return TemplateTable(data["origin"], float(data["res"]), table)
        except (OSError, KeyError, ValueError):
            pass  # unreadable cache: rebuild
    with single_threaded_blas():
        result = _build_table()
    if path is not None:
        try:
            from miex.io import atomic_path

            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                np.savez(tmp, table=result.table, origin=result.origin, res=result.res)
        except OSError:
            pass  # read-only cache: keep the in-memory table
    return result


def _build_table() -> TemplateTable:
    basis = load_basis()
    pts = basis.dense_points
    hull = _hull(pts)
    rings = [_offset_ring(hull, m, ANCHOR_SPACING) for m in ANCHOR_MARGINS]
    ctrl = np.vstack([pts, *rings])
    values = np.zeros((ctrl.shape[0], 2 * N_AUS))
    values[: pts.shape[0]] = basis.dense.transpose(1, 0, 2).reshape(pts.shape[0], -1)

    # Two splines that differ only in which inner lip they see (see module docstring).
    upper_lip = [u for u, _ in LIP_PAIRS]
    lower_lip = [lo for _, lo in LIP_PAIRS]
    coefs = []
    for drop in (lower_lip, upper_lip):
        keep = np.ones(ctrl.shape[0], bool)
        keep[drop] = False
        c = tps_fit(ctrl[keep], values[keep])
        full = np.zeros((ctrl.shape[0] + 3, values.shape[1]))
        full[np.r_[np.flatnonzero(keep), ctrl.shape[0] + np.arange(3)]] = c
        coefs.append(full)
    coef = np.hstack(coefs)  # (n + 3, 4 * N_AUS): upper spline | lower spline

    outer = ANCHOR_MARGINS[-1]
    lo = hull.min(0) - outer - 2 * TABLE_RES
    hi = hull.max(0) + outer + 2 * TABLE_RES
    xs = np.arange(lo[0], hi[0] + TABLE_RES / 2, TABLE_RES)
    ys = np.arange(lo[1], hi[1] + TABLE_RES / 2, TABLE_RES)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    both = _tps_eval(ctrl, coef, grid)
    w = _mouth_blend(pts, grid)[:, None]
    field = w * both[:, : 2 * N_AUS] + (1.0 - w) * both[:, 2 * N_AUS :]
    # Exactly zero beyond the outer anchor ring (the spline is ~0 between the rings already).
    d = _hull_distance(hull, grid)
    inner = ANCHOR_MARGINS[0]
    field *= _smoothstep((outer - d) / (outer - inner))[:, None]
    table = field.reshape(len(ys), len(xs), -1).astype(np.float32)
    table.setflags(write=False)
    return TemplateTable(np.array([xs[0], ys[0]]), TABLE_RES, table)


# --------------------------------------------------------------------------- per face


@dataclass
class WarpPrepared:
    """Per-face state of :class:`WarpGenerator` (the result of ``prepare``).

    Fields are stored planar: ``fields[k]`` is ``[dx over the (h, w) nodes, dy over the
    nodes]`` for AU ``k`` at intensity 1, in crop pixels.
    """

    image: np.ndarray  # (H, W, 3) uint8 crop
    landmarks: np.ndarray  # (68, 2) crop coords
    fields: np.ndarray  # (N_AUS, 2 * h * w) float32 forward fields on the coarse nodes
    grid_shape: tuple[int, int]  # (h, w) coarse nodes
    cell: tuple[float, float]  # (sx, sy) crop pixels per coarse cell
    node_x: np.ndarray  # (h, w) float32 node index coordinates (0..w-1)
    node_y: np.ndarray  # (h, w) float32 (0..h-1)
    pixel_x: np.ndarray  # (H, W) float32 crop pixel coordinates
    pixel_y: np.ndarray  # (H, W) float32
    similarity: np.ndarray  # (2, 3) template -> crop (least squares over the 68 landmarks)
    iod_px: float  # crop pixels per template IOD (the similarity's scale)

    @property
    def size(self) -> tuple[int, int]:
        """(W, H) of the crop."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    def coarse_fields(self) -> np.ndarray:
        """(N_AUS, h, w, 2) per-AU forward fields on the coarse nodes (crop px)."""
        h, w = self.grid_shape
        return self.fields.reshape(N_AUS, 2, h, w).transpose(0, 2, 3, 1)

    def node_xy(self) -> np.ndarray:
        """(h, w, 2) crop coordinates of the coarse nodes."""
        sx, sy = self.cell
        return np.stack([(self.node_x + 0.5) * sx - 0.5, (self.node_y + 0.5) * sy - 0.5], -1)


@dataclass(frozen=True)
class _Layout:
    """What depends only on the crop size, the node grid and the border width (cached)."""

    node_xy: np.ndarray  # (h, w, 2) float64 crop coordinates of the coarse nodes
    taper: np.ndarray  # (h * w, 1, 1) float32 border taper of the nodes
    lattice: np.ndarray  # (RESIDUAL_GRID^2, 2) crop points where the residual spline is evaluated
    lattice_x: np.ndarray  # (h, w) float32 node positions in lattice cells (for cv2.remap)
    lattice_y: np.ndarray
    node_x: np.ndarray  # (h, w) float32 node index coordinates, read-only
    node_y: np.ndarray
    pixel_x: np.ndarray  # (H, W) float32 pixel coordinates, read-only
    pixel_y: np.ndarray


@lru_cache(maxsize=16)
def _layout(h: int, w: int, H: int, W: int, border: float) -> _Layout:
    sx, sy = W / w, H / h
    # node centres follow cv2.resize's convention, so resizing (h, w) -> (H, W) is exact
    jx = (np.arange(w, dtype=np.float64) + 0.5) * sx - 0.5
    jy = (np.arange(h, dtype=np.float64) + 0.5) * sy - 0.5
    node_xy = np.stack(np.meshgrid(jx, jy), -1)
    taper = _border_taper(node_xy, W, H, max(sx, sy), border).reshape(-1, 1, 1).astype(np.float32)
    n = RESIDUAL_GRID
    lattice = np.stack(np.meshgrid(np.linspace(0.0, W - 1.0, n), np.linspace(0.0, H - 1.0, n)), -1).reshape(-1, 2)
    lattice_x = (node_xy[..., 0] * ((n - 1) / max(W - 1.0, 1.0))).astype(np.float32)
    lattice_y = (node_xy[..., 1] * ((n - 1) / max(H - 1.0, 1.0))).astype(np.float32)
    ix, iy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    px, py = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    layout = _Layout(node_xy, taper, lattice, lattice_x, lattice_y, ix, iy, px, py)
    for a in vars(layout).values():
        a.setflags(write=False)
    return layout


def _border_taper(xy: np.ndarray, W: int, H: int, cell: float, border: float) -> np.ndarray:
    """1 inside, 0 on the outermost ring of nodes (so the upsampled field is exactly zero
    on the crop's edge pixels), a smooth ramp ``border * side`` wide in between."""
    band = max(border * min(W, H), 1e-6)
    x, y = xy[..., 0], xy[..., 1]
    d = np.minimum(np.minimum(x + 0.5, W - 0.5 - x), np.minimum(y + 0.5, H - 0.5 - y)) - cell
    return _smoothstep(d / band)


def _face_parts(face: Any) -> tuple[np.ndarray, np.ndarray]:
    image = getattr(face, "image", None)
    landmarks = getattr(face, "landmarks", None)
    if image is None or landmarks is None:
        raise MiexError("a generator needs a face with .image (S, S, 3) uint8 and .landmarks (68, 2)")
    image = np.ascontiguousarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise MiexError(f"face image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (68, 2) or not np.all(np.isfinite(pts)):
        raise MiexError(f"face landmarks must be (68, 2) finite, got shape {pts.shape}")
    return image, pts


class _Residual:
    """Crop -> template map: inverse similarity plus a thin-plate residual (exact at the 68)."""

    def __init__(self, basis: AUBasis, landmarks: np.ndarray) -> None:
        self.sim = similarity(basis.template, landmarks)  # template -> crop
        self.inv = invert_affine(self.sim)
        lt = apply_affine(self.inv, landmarks)  # detected landmarks in the template frame
        target = basis.template - lt
        # dlib often puts the inner lips of a closed mouth on the same pixels (61-63 on
        # 67-65): merge coincident points (their targets averaged) or the spline is singular.
        keep = np.ones(68, bool)
        d2 = squared_distances(lt, lt)
        close = np.argwhere(np.triu(d2 < MERGE_DISTANCE**2, k=1))
        for i in np.unique(close[:, 0]):
            if not keep[i]:
                continue
            same = np.flatnonzero(keep & (d2[i] < MERGE_DISTANCE**2))
            target[i] = target[same].mean(0)
            keep[same[same != i]] = False
        theta = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
        far = RESIDUAL_ANCHOR_RADIUS * np.stack([np.cos(theta), np.sin(theta)], 1) + np.array([0.0, 0.5])
        self.ctrl = np.vstack([lt[keep], far])
        values = np.vstack([target[keep], np.zeros_like(far)])
        self.coef = tps_fit(self.ctrl, values, smoothing=1e-6)

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        u = apply_affine(self.inv, xy)
        return u + _tps_eval(self.ctrl, self.coef, u)

    def on_nodes(self, layout: _Layout) -> np.ndarray:
        """Template coords (h, w, 2) of the crop nodes; the residual part is evaluated on a
        RESIDUAL_GRID^2 lattice spanning the crop and interpolated bilinearly."""
        import cv2

        n = RESIDUAL_GRID
        ul = apply_affine(self.inv, layout.lattice)
        res = _tps_eval(self.ctrl, self.coef, ul).reshape(n, n, 2).astype(np.float32)
        r = cv2.remap(res, layout.lattice_x, layout.lattice_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return apply_affine(self.inv, layout.node_xy) + r


# --------------------------------------------------------------------------- generator


class WarpGenerator(Generator):
    """Training-free AU-driven warp (see the module docstring).

    Options: ``grid`` coarse nodes along each side of the crop (default 64: 2 px per node at
    128 px, 4 at 256; an eye is ~0.13 IOD = 5 px tall at 128 px, and with 4 px nodes the
    eyelid AUs lose 20-50 % of their motion at the landmarks; 32 is ~2x faster),
    ``border`` width of the anchored crop border as a fraction of the crop side (0.06),
    ``min_det`` smallest allowed Jacobian determinant of the warp (0.1).
    """

    name = "warp"

    def __init__(self, grid: int = 64, border: float = 0.06, min_det: float = 0.1) -> None:
        if int(grid) < 8:
            raise MiexError(f"grid must be >= 8 nodes, got {grid}")
        if not 0.0 <= float(border) < 0.5:
            raise MiexError(f"border must be in [0, 0.5), got {border}")
        if not 0.0 < float(min_det) < 1.0:
            raise MiexError(f"min_det must be in (0, 1), got {min_det}")
        self.grid = int(grid)
        self.border = float(border)
        self.min_det = float(min_det)
        self.basis = load_basis()
        self.table = template_table()

    # ---------------------------------------------------------------- prepare

    def prepare(self, face: Any) -> WarpPrepared:
        import cv2

        image, landmarks = _face_parts(face)
        H, W = image.shape[:2]
        h, w = min(H, self.grid), min(W, self.grid)
        layout = _layout(h, w, H, W, self.border)
        residual = _Residual(self.basis, landmarks)
        f = self.table.sample(residual.on_nodes(layout)).reshape(-1, 1, 2)  # (h * w * 17) template vectors (IOD)
        # rotation * scale (px/IOD) in one cv2.transform pass, then the border taper; stored planar per AU
        g = cv2.transform(f, residual.sim[:, :2]).reshape(h * w, N_AUS, 2)
        g *= layout.taper
        fields = np.ascontiguousarray(g.transpose(1, 2, 0)).reshape(N_AUS, 2 * h * w)
        return WarpPrepared(
            image=image,
            landmarks=landmarks,
            fields=fields,
            grid_shape=(h, w),
            cell=(W / w, H / h),
            node_x=layout.node_x,
            node_y=layout.node_y,
            pixel_x=layout.pixel_x,
            pixel_y=layout.pixel_y,
            similarity=residual.sim,
            iod_px=float(np.hypot(*residual.sim[:, 0])),
        )

    def warm_up(self, size: int) -> None:
        """Render one frame of a synthetic face (the template's landmarks on a grey crop):
        this loads the compiled kernels from numba's cache, about 0.3-0.5 s per process."""
        from types import SimpleNamespace

        from miex.faces.align import canonical_eyes

        left, right = canonical_eyes(size)
        landmarks = self.basis.template * float(right[0] - left[0]) + (left + right) / 2.0
        face = SimpleNamespace(image=np.full((size, size, 3), 128, np.uint8), landmarks=landmarks)
        self.render(self.prepare(face), np.full(N_AUS, 0.1, np.float32))

    # ---------------------------------------------------------------- fields

    def forward_field(
        self, prepared: WarpPrepared, z: Sequence[float] | np.ndarray, *, guard: bool = True
    ) -> np.ndarray:
        """Coarse forward displacement, planar (2, h, w), crop px. ``guard=False`` gives the
        exact linear field ``sum_k z_k F_k``; with the guard it is scaled down where it
        would fold."""
        d = self._weighted_sum(prepared, self._as_z(z))
        if guard:
            d = self._guard(d, prepared.cell)
        return d

    @staticmethod
    def _weighted_sum(prepared: WarpPrepared, zz: np.ndarray) -> np.ndarray:
        """sum_k z_k F_k, planar (2, h, w). Accumulated AU by AU in a fixed order (not with a
        BLAS matrix product, whose summation order may depend on the thread count), so a
        frame has the same bits in every process."""
        h, w = prepared.grid_shape
        active = np.flatnonzero(zz)
        d = np.empty(2 * h * w, np.float32)
        kernels.weighted_sum(prepared.fields, active, zz[active].astype(np.float32), d)
        return d.reshape(2, h, w)

    def dense_forward_field(self, prepared: WarpPrepared, z: Sequence[float] | np.ndarray, *, guard: bool = False) -> np.ndarray:
        """Full-resolution forward field (H, W, 2), crop px (linear in ``z`` without guard)."""
        import cv2

        W, H = prepared.size
        d = self.forward_field(prepared, z, guard=guard)
        return np.stack([cv2.resize(d[0], (W, H)), cv2.resize(d[1], (W, H))], -1)

    def inverse_map(self, prepared: WarpPrepared, z: Sequence[float] | np.ndarray) -> np.ndarray:
        """Full-resolution backward map (H, W, 2): output pixel -> source position."""
        return np.stack(self._maps(prepared, self._as_z(z)), -1)

    def _maps(self, prepared: WarpPrepared, zz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Backward maps (mx, my), (H, W) float32: one compiled call per frame in the common
        case (:func:`miex.generators.warp_kernels.frame_maps`); a field that would fold is
        guarded first, and nodes the triangle walk left unsettled are solved exactly."""
        W, H = prepared.size
        h, w = prepared.grid_shape
        sx, sy = prepared.cell
        active = np.flatnonzero(zz)
        d = np.empty((2, h, w), np.float32)
        ex, ey = np.empty((h, w), np.float32), np.empty((h, w), np.float32)
        unsettled = np.empty((h, w), np.bool_)
        mx, my = np.empty((H, W), np.float32), np.empty((H, W), np.float32)
        status = kernels.frame_maps(prepared.fields, active, zz[active].astype(np.float32), sx, sy, self.min_det,
                                    self.INVERSE_STEPS, d, ex, ey, unsettled, mx, my)
        if status != 0:
            ex, ey = self._inverse(self._guard(d, prepared.cell), prepared)
            kernels.pixel_maps(ex, ey, W, H, mx, my)
        return mx, my

    # ---------------------------------------------------------------- render

    def render(self, prepared: WarpPrepared, z: Sequence[float] | np.ndarray) -> np.ndarray:
        return self._render(prepared, validate_z(z).astype(np.float32))

    def render_many(self, prepared: WarpPrepared, zs: Sequence[Sequence[float]] | np.ndarray) -> list[np.ndarray]:
        """Frames for AU vectors ``zs`` (n, 17), validated once (the same bytes as :meth:`render`)."""
        arr = validate_z(zs, what="AU vectors").astype(np.float32)
        return [self._render(prepared, z) for z in arr.reshape(-1, N_AUS)]

    def render_unbounded(self, prepared: WarpPrepared, z: Sequence[float] | np.ndarray) -> np.ndarray:
        """Like :meth:`render` but ``z`` may exceed 1 (extrapolation, for visual checks)."""
        return self._render(prepared, self._as_z(z))

    def _render(self, prepared: WarpPrepared, zz: np.ndarray) -> np.ndarray:
        import cv2

        if zz.shape != (N_AUS,):
            raise MiexError(f"AU vector must have {N_AUS} values, got shape {zz.shape}")
        if not zz.any():
            return prepared.image.copy()
        mx, my = self._maps(prepared, zz)
        return cv2.remap(prepared.image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    @staticmethod
    def _as_z(z: Sequence[float] | np.ndarray) -> np.ndarray:
        zz = np.asarray(z, dtype=np.float32)
        if zz.shape != (N_AUS,):
            raise MiexError(f"AU vector must have {N_AUS} values, got shape {zz.shape}")
        if not np.all(np.isfinite(zz)) or zz.min() < 0:
            raise MiexError("AU vector must be finite and non-negative")
        return zz

    # ---------------------------------------------------------------- guard

    @staticmethod
    def triangle_jacobians(d: np.ndarray, cell: tuple[float, float]) -> tuple[np.ndarray, ...]:
        """Displacement gradients of the piecewise-linear warp on the node lattice.

        Each cell (corners a=(y, x), b=(y, x+1), c=(y+1, x+1), e=(y+1, x)) is split into the
        triangles abc and ace; returns (gxx, gxy, gyx, gyy), each (2, h-1, w-1) (triangle,
        cell), with ``g_ij = dD_i/dj`` in node units (the same determinant as in pixels).
        """
        sx, sy = cell
        dx, dy = d[0] * np.float32(1.0 / sx), d[1] * np.float32(1.0 / sy)
        out = []
        for comp in (dx, dy):
            a, b = comp[:-1, :-1], comp[:-1, 1:]
            c, e = comp[1:, 1:], comp[1:, :-1]
            out.append(np.stack([b - a, c - e]))  # d/dx: abc, ace
            out.append(np.stack([c - b, e - a]))  # d/dy
        return tuple(out)

    def _max_factor(self, d: np.ndarray, cell: tuple[float, float]) -> np.ndarray | None:
        """Per cell, the largest factor in (0, 1] keeping det(I + factor * G) >= min_det on
        both of its triangles; None if the field passes as it is."""
        thr = self.min_det
        sx, sy = cell
        if kernels.min_triangle_det(d[0], d[1], 1.0 / sx, 1.0 / sy) >= thr:
            return None
        a, b, c, e = self.triangle_jacobians(d, cell)
        tr = a + e
        dt = a * e - b * c
        det = 1.0 + tr + dt
        alpha = np.ones_like(det)
        bad = det < thr
        t, q = tr[bad].astype(np.float64), dt[bad].astype(np.float64)
        k = 1.0 - thr
        # smallest positive root of q x^2 + t x + k = 0 (the value at x = 0 is k > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            disc = np.sqrt(np.maximum(t * t - 4.0 * q * k, 0.0))
            r1 = (-t - disc) / (2.0 * q)
            r2 = (-t + disc) / (2.0 * q)
            r1 = np.where(r1 > 0, r1, np.inf)
            r2 = np.where(r2 > 0, r2, np.inf)
            roots = np.where(np.abs(q) < 1e-12, -k / t, np.minimum(r1, r2))
        roots = np.where(np.isfinite(roots) & (roots > 0), roots, 0.0)
        alpha[bad] = np.clip(roots * 0.98, 0.0, 1.0)
        return alpha.min(0)

    def _guard(self, d: np.ndarray, cell: tuple[float, float]) -> np.ndarray:
        """Scale the field down where the warp would fold (det < min_det), locally first."""
        import cv2

        for _ in range(3):
            alpha = self._max_factor(d, cell)
            if alpha is None:
                return d
            # cells -> nodes (min over the adjacent cells), then spread and smooth
            node = np.ones(d.shape[1:], np.float32)
            a32 = alpha.astype(np.float32)
            for oy in (0, 1):
                for ox in (0, 1):
                    sl = node[oy : oy + a32.shape[0], ox : ox + a32.shape[1]]
                    np.minimum(sl, a32, out=sl)
            node = cv2.erode(node, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
            node = cv2.blur(node, (3, 3), borderType=cv2.BORDER_REPLICATE)
            d = d * node[None]
        alpha = self._max_factor(d, cell)
        if alpha is not None:
            d = d * float(alpha.min())
        return d

    # ---------------------------------------------------------------- inverse

    #: Triangle-walk steps of the node inverse before a node counts as unsettled (see :meth:`_inverse`).
    INVERSE_STEPS = 8

    def _inverse(self, d: np.ndarray, prepared: WarpPrepared) -> tuple[np.ndarray, np.ndarray]:
        """Backward displacement (ex, ey) on the nodes: p = q - e(q) solves p + D(p) = q.

        Exact for the piecewise-linear forward warp: each node walks the triangles from the
        first-order guess ``q - D(q)`` (:func:`miex.generators.warp_kernels.invert_nodes`, one to
        three steps at MiE displacements). Nodes that have not settled after INVERSE_STEPS
        steps (rare; a strongly stretched lip line) are solved by :meth:`_invert`, which scans
        every forward-mapped triangle near them.
        """
        import cv2

        sx, sy = prepared.cell
        h, w = prepared.grid_shape
        ex = np.empty((h, w), np.float32)
        ey = np.empty((h, w), np.float32)
        unsettled = np.empty((h, w), np.bool_)
        if kernels.invert_nodes(d[0], d[1], sx, sy, self.INVERSE_STEPS, ex, ey, unsettled) == 0:
            return ex, ey
        inv_x, inv_y = 1.0 / sx, 1.0 / sy
        # sources of the unsettled nodes lie within their displacement (plus one cell)
        reach = float(max(np.abs(d[0][unsettled]).max() * inv_x, np.abs(d[1][unsettled]).max() * inv_y))
        reach = max(reach, float(max(np.abs(ex[unsettled]).max() * inv_x, np.abs(ey[unsettled]).max() * inv_y)))
        r = int(np.ceil(reach)) + 1
        region = cv2.dilate(unsettled.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(bool)
        return self._invert(d, prepared, ex, ey, cells=region[:-1, :-1] | region[1:, 1:], targets=unsettled)

    def _invert(
        self,
        d: np.ndarray,
        prepared: WarpPrepared,
        ex: np.ndarray | None = None,
        ey: np.ndarray | None = None,
        cells: np.ndarray | None = None,
        targets: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Backward displacement (ex, ey) on the nodes: p = q - e(q) solves p + D(p) = q.

        Exact for the piecewise-linear forward warp on the node lattice (two triangles per
        cell): every forward-mapped triangle is scanned for the lattice nodes it covers, whose
        source follows from barycentric coordinates. The guard keeps every triangle
        positively oriented, so the inverse is a bijection (no fold-overs). Nodes that no
        active triangle covers keep the first-order inverse ``e = D(q)``.
        """
        sx, sy = prepared.cell
        h, w = prepared.grid_shape
        dxn = d[0] * np.float32(1.0 / sx)  # node units
        dyn = d[1] * np.float32(1.0 / sy)
        ex = d[0].copy() if ex is None else ex.copy()
        ey = d[1].copy() if ey is None else ey.copy()
        moving = (dxn != 0) | (dyn != 0)
        active = moving[:-1, :-1] | moving[:-1, 1:] | moving[1:, :-1] | moving[1:, 1:]
        if cells is not None:
            active &= cells
        cell_ids = np.flatnonzero(active)
        if cell_ids.size == 0:
            return ex, ey
        cy = (cell_ids // (w - 1)).astype(np.int32)
        cx = (cell_ids % (w - 1)).astype(np.int32)
        # triangles abc and ace of each active cell, as flat node indices and source coords
        i_a = cy * w + cx
        i_c = i_a + (w + 1)
        i_mid = np.concatenate([i_a + 1, i_c])  # b for abc, c for ace
        i_end = np.concatenate([i_c, i_a + w])  # c for abc, e for ace
        i_a = np.concatenate([i_a, i_a])
        fx, fy = dxn.ravel(), dyn.ravel()
        s0x = np.concatenate([cx, cx]).astype(np.float32)
        s0y = np.concatenate([cy, cy]).astype(np.float32)
        n = cx.size
        s1x = s0x + 1.0  # abc: b = a + (1, 0); ace: c = a + (1, 1)
        s1y = s0y.copy()
        s1y[n:] += 1.0
        s2x = s0x.copy()  # abc: c = a + (1, 1); ace: e = a + (0, 1)
        s2x[:n] += 1.0
        s2y = s0y + 1.0
        v0x, v0y = s0x + fx[i_a], s0y + fy[i_a]
        v1x, v1y = s1x + fx[i_mid], s1y + fy[i_mid]
        v2x, v2y = s2x + fx[i_end], s2y + fy[i_end]
        e1x, e1y = v1x - v0x, v1y - v0y
        e2x, e2y = v2x - v0x, v2y - v0y
        cross = e1x * e2y - e1y * e2x
        ok = cross > 1e-6
        x0 = np.ceil(np.minimum(np.minimum(v0x, v1x), v2x) - 1e-4)
        x1 = np.floor(np.maximum(np.maximum(v0x, v1x), v2x) + 1e-4)
        y0 = np.ceil(np.minimum(np.minimum(v0y, v1y), v2y) - 1e-4)
        y1 = np.floor(np.maximum(np.maximum(v0y, v1y), v2y) + 1e-4)
        nx = np.where(ok, x1 - x0 + 1, 0)
        ny = np.where(ok, y1 - y0 + 1, 0)
        kx, ky = int(nx.max()), int(ny.max())
        if kx <= 0 or ky <= 0:
            return ex, ey
        inv = (np.float32(1.0) / np.where(ok, cross, np.float32(1.0)))[:, None]
        ox = np.tile(np.arange(kx, dtype=np.float32), ky)[None, :]  # (1, K) candidate offsets
        oy = np.repeat(np.arange(ky, dtype=np.float32), kx)[None, :]
        qx = x0[:, None] + ox  # (n, K) candidate lattice nodes per triangle
        qy = y0[:, None] + oy
        rx = qx - v0x[:, None]
        ry = qy - v0y[:, None]
        l1 = (rx * e2y[:, None] - ry * e2x[:, None]) * inv
        l2 = (ry * e1x[:, None] - rx * e1y[:, None]) * inv
        eps = 1e-4
        sel = (l1 >= -eps) & (l2 >= -eps) & (l1 + l2 <= 1.0 + eps)
        sel &= (ox < nx[:, None]) & (oy < ny[:, None])
        sel &= (qx >= 0) & (qx <= w - 1) & (qy >= 0) & (qy <= h - 1)
        t, kk = np.nonzero(sel)
        if t.size == 0:
            return ex, ey
        a1, a2 = l1[t, kk], l2[t, kk]
        px = s0x[t] + a1 * (s1x[t] - s0x[t]) + a2 * (s2x[t] - s0x[t])
        py = s0y[t] + a1 * (s1y[t] - s0y[t]) + a2 * (s2y[t] - s0y[t])
        gx, gy = qx[t, kk], qy[t, kk]
        gi, gj = gy.astype(np.int64), gx.astype(np.int64)
        if targets is not None:
            keep = targets[gi, gj]
            gi, gj, gx, gy, px, py = gi[keep], gj[keep], gx[keep], gy[keep], px[keep], py[keep]
        ex[gi, gj] = (gx - px) * np.float32(sx)
        ey[gi, gj] = (gy - py) * np.float32(sy)
        return ex, ey
