"""Compiled per-frame kernels of the warp generator (numba, ``cache=True``).

The warp's per-frame work runs on the coarse node lattice (64 x 64 at 128 px) and is a few
thousand tiny, data-dependent steps per frame: in numpy it costs more in per-call overhead
than in arithmetic. These kernels do it in one pass each:

- :func:`weighted_sum`: ``sum_k z_k F_k`` accumulated AU by AU (float32, fixed order);
- :func:`min_triangle_det`: the smallest Jacobian determinant over both triangles of every
  cell (the fold-over check of the guard);
- :func:`invert_nodes`: the exact inverse of the piecewise-linear forward warp at every node,
  by walking the triangles (see its docstring);
- :func:`pixel_maps`: the node inverse upsampled to full resolution (``cv2.resize``'s
  INTER_LINEAR convention) and turned into clamped backward maps for ``cv2.remap``.

No ``fastmath`` and no parallel loops: every kernel runs its float32 arithmetic in a fixed
order, so a frame has the same bytes in every process on one machine. Compiled code is cached
on disk (numba's cache, next to this file or in the user cache when that is read-only).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: A point is inside a triangle when its barycentric coordinates are >= -INSIDE_EPS.
INSIDE_EPS = 1e-5
#: Cells searched around a node whose triangle walk cycled (see :func:`invert_nodes`).
SCAN_RADIUS = 2


@njit(cache=True, error_model="numpy")
def weighted_sum(fields: np.ndarray, active: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    """``out = sum_k weights[k] * fields[active[k]]`` (float32, AU by AU in ``active`` order)."""
    out[:] = 0.0
    for k in range(active.size):
        row = fields[active[k]]
        zk = weights[k]
        for i in range(out.size):
            out[i] += zk * row[i]


@njit(cache=True, error_model="numpy")
def min_triangle_det(dx: np.ndarray, dy: np.ndarray, inv_sx: float, inv_sy: float) -> float:
    """Smallest det(I + dD) over the triangles abc and ace of every cell (node units).

    Cell corners a=(y, x), b=(y, x+1), c=(y+1, x+1), e=(y+1, x); the same forward differences
    as :meth:`miex.generators.warp.WarpGenerator.triangle_jacobians`.
    """
    h, w = dx.shape
    best = np.inf
    for y in range(h - 1):
        for x in range(w - 1):
            ax, ay = dx[y, x] * inv_sx, dy[y, x] * inv_sy
            bx, by = dx[y, x + 1] * inv_sx, dy[y, x + 1] * inv_sy
            cx, cy = dx[y + 1, x + 1] * inv_sx, dy[y + 1, x + 1] * inv_sy
            ex, ey = dx[y + 1, x] * inv_sx, dy[y + 1, x] * inv_sy
            det_abc = (1.0 + bx - ax) * (1.0 + cy - by) - (cx - bx) * (by - ay)
            det_ace = (1.0 + cx - ex) * (1.0 + ey - ay) - (ex - ax) * (cy - ey)
            if det_abc < best:
                best = det_abc
            if det_ace < best:
                best = det_ace
    return best


@njit(cache=True, error_model="numpy", inline="always")
def _solve_in_triangle(dxn: np.ndarray, dyn: np.ndarray, qx: float, qy: float, px: float, py: float):
    """The triangle of the cell holding ``p`` that contains ``p``; the source ``s`` of ``q``
    under that triangle's affine forward map; whether ``s`` lies in that triangle."""
    h, w = dxn.shape
    cx = min(max(int(np.floor(px)), 0), w - 2)
    cy = min(max(int(np.floor(py)), 0), h - 2)
    upper = (px - cx) >= (py - cy)  # abc when u >= v, else ace
    ax, ay = dxn[cy, cx], dyn[cy, cx]
    if upper:
        mx, my = dxn[cy, cx + 1], dyn[cy, cx + 1]  # b
        g00, g10 = mx - ax, my - ay  # d/du
        g01, g11 = dxn[cy + 1, cx + 1] - mx, dyn[cy + 1, cx + 1] - my  # d/dv: c - b
    else:
        ex, ey = dxn[cy + 1, cx], dyn[cy + 1, cx]  # e
        g00, g10 = dxn[cy + 1, cx + 1] - ex, dyn[cy + 1, cx + 1] - ey  # c - e
        g01, g11 = ex - ax, ey - ay
    m00, m11 = 1.0 + g00, 1.0 + g11
    det = m00 * m11 - g01 * g10
    if det <= 1e-6:
        return px, py, False
    inv = 1.0 / det
    rx, ry = qx - cx - ax, qy - cy - ay
    u = (m11 * rx - g01 * ry) * inv
    v = (m00 * ry - g10 * rx) * inv
    eps = INSIDE_EPS
    if upper:
        inside = v >= -eps and u - v >= -eps and u <= 1.0 + eps
    else:
        inside = u >= -eps and v - u >= -eps and v <= 1.0 + eps
    return cx + u, cy + v, inside


@njit(cache=True, error_model="numpy")
def invert_nodes(
    dx: np.ndarray, dy: np.ndarray, sx: float, sy: float, max_steps: int,
    ex: np.ndarray, ey: np.ndarray, unsettled: np.ndarray,
) -> int:
    """Backward displacement (``ex``, ``ey``, crop px) at every node: ``p = q - e(q)`` solves
    ``p + D(p) = q`` for the piecewise-linear forward warp (two triangles per cell).

    Per node, from the first-order guess ``p = q - D(q)``: take the triangle containing ``p``,
    solve ``q`` under its affine forward map, and stop when the solution lies in that same
    triangle (then it is exact). Each step is a Newton step of the piecewise-affine map, so
    it settles in one to three steps at MiE displacements. Nodes that have not settled after
    ``max_steps`` are flagged in ``unsettled`` (and keep the last estimate); returns their count.
    """
    h, w = dx.shape
    inv_sx, inv_sy = 1.0 / sx, 1.0 / sy
    dxn = np.empty((h, w), np.float32)
    dyn = np.empty((h, w), np.float32)
    for y in range(h):
        for x in range(w):
            dxn[y, x] = dx[y, x] * inv_sx
            dyn[y, x] = dy[y, x] * inv_sy
    hi_x, hi_y = w - 1.0, h - 1.0
    count = 0
    for y in range(h):
        for x in range(w):
            if dxn[y, x] == 0.0 and dyn[y, x] == 0.0 and _still(dxn, dyn, y, x):
                ex[y, x] = 0.0
                ey[y, x] = 0.0
                unsettled[y, x] = False
                continue
            px = min(max(x - dxn[y, x], 0.0), hi_x)
            py = min(max(y - dyn[y, x], 0.0), hi_y)
            done = False
            for _ in range(max_steps):
                px, py, done = _solve_in_triangle(dxn, dyn, x, y, px, py)
                px = min(max(px, 0.0), hi_x)
                py = min(max(py, 0.0), hi_y)
                if done:
                    break
            if not done:  # the walk cycled: scan the triangles around where it got to
                px, py, done = _scan_cells(dxn, dyn, x, y, px, py, SCAN_RADIUS)
            ex[y, x] = (x - px) * sx
            ey[y, x] = (y - py) * sy
            unsettled[y, x] = not done
            if not done:
                count += 1
    return count


@njit(cache=True, error_model="numpy")
def _scan_cells(dxn: np.ndarray, dyn: np.ndarray, qx: float, qy: float, px: float, py: float, radius: int):
    """Search the cells within ``radius`` of ``p`` for the forward triangle that covers ``q``;
    returns its source of ``q`` and whether one was found (else ``p`` unchanged)."""
    h, w = dxn.shape
    cx0 = min(max(int(np.floor(px)), 0), w - 2)
    cy0 = min(max(int(np.floor(py)), 0), h - 2)
    for cy in range(max(cy0 - radius, 0), min(cy0 + radius + 1, h - 1)):
        for cx in range(max(cx0 - radius, 0), min(cx0 + radius + 1, w - 1)):
            for upper in (True, False):
                # a point strictly inside the triangle, where the walk starts
                tx = cx + (0.6667 if upper else 0.3333)
                ty = cy + (0.3333 if upper else 0.6667)
                sx, sy, inside = _solve_in_triangle(dxn, dyn, qx, qy, tx, ty)
                if inside:
                    return sx, sy, True
    return px, py, False


@njit(cache=True, error_model="numpy")
def _still(dxn: np.ndarray, dyn: np.ndarray, y: int, x: int) -> bool:
    """True when the node and its 8 neighbours do not move (its inverse is exactly zero)."""
    h, w = dxn.shape
    for j in range(max(y - 1, 0), min(y + 2, h)):
        for i in range(max(x - 1, 0), min(x + 2, w)):
            if dxn[j, i] != 0.0 or dyn[j, i] != 0.0:
                return False
    return True


@njit(cache=True, error_model="numpy")
def _linear_taps(n_out: int, n_in: int):
    """Source index pairs and weights of INTER_LINEAR resizing ``n_in`` -> ``n_out`` samples
    (``cv2.resize``'s convention: output ``i`` reads input ``(i + 0.5) * n_in / n_out - 0.5``,
    clamped at both ends)."""
    lo = np.empty(n_out, np.int64)
    hi = np.empty(n_out, np.int64)
    frac = np.empty(n_out, np.float32)
    scale = n_in / n_out
    for i in range(n_out):
        s = (i + 0.5) * scale - 0.5
        j = int(np.floor(s))
        t = s - j
        if j < 0:
            j, t = 0, 0.0
        if j >= n_in - 1:
            j, t = n_in - 1, 0.0
        lo[i] = j
        hi[i] = min(j + 1, n_in - 1)
        frac[i] = t
    return lo, hi, frac


@njit(cache=True, error_model="numpy")
def pixel_maps(ex: np.ndarray, ey: np.ndarray, width: int, height: int, mx: np.ndarray, my: np.ndarray) -> None:
    """Backward maps for ``cv2.remap``: pixel minus the node inverse upsampled bilinearly with
    ``cv2.resize``'s INTER_LINEAR convention (node ``j`` sits at pixel ``(j + 0.5) * W / w - 0.5``),
    clamped to the image. Separable: each output row blends two node rows, then columns."""
    h, w = ex.shape
    x0, x1, a = _linear_taps(width, w)
    y0, y1, b = _linear_taps(height, h)
    row_x = np.empty(w, np.float32)
    row_y = np.empty(w, np.float32)
    top_x, top_y = np.float32(width - 1), np.float32(height - 1)
    for y in range(height):
        r0, r1, t = y0[y], y1[y], b[y]
        for j in range(w):
            row_x[j] = ex[r0, j] + t * (ex[r1, j] - ex[r0, j])
            row_y[j] = ey[r0, j] + t * (ey[r1, j] - ey[r0, j])
        fy = np.float32(y)
        for x in range(width):
            c0, c1, u = x0[x], x1[x], a[x]
            vx = row_x[c0] + u * (row_x[c1] - row_x[c0])
            vy = row_y[c0] + u * (row_y[c1] - row_y[c0])
            mx[y, x] = min(max(np.float32(x) - vx, np.float32(0.0)), top_x)
            my[y, x] = min(max(fy - vy, np.float32(0.0)), top_y)


@njit(cache=True, error_model="numpy")
def frame_maps(
    fields: np.ndarray, active: np.ndarray, weights: np.ndarray, sx: float, sy: float, min_det: float,
    max_steps: int, d: np.ndarray, ex: np.ndarray, ey: np.ndarray, unsettled: np.ndarray,
    mx: np.ndarray, my: np.ndarray,
) -> int:
    """One frame's backward maps in one call, for the common case: the weighted sum into ``d``
    (2, h, w), the fold-over check, the node inverse and the pixel maps.

    Returns 0 when ``mx``/``my`` are written; 1 when the field would fold (``d`` holds the
    unguarded sum; the caller guards it); 2 when some node did not settle (the caller solves
    those exactly). In both other cases the maps are not written.
    """
    h, w = ex.shape
    flat = d.reshape(d.size)
    weighted_sum(fields, active, weights, flat)
    dx, dy = d[0], d[1]
    if min_triangle_det(dx, dy, 1.0 / sx, 1.0 / sy) < min_det:
        return 1
    if invert_nodes(dx, dy, sx, sy, max_steps, ex, ey, unsettled) > 0:
        return 2
    pixel_maps(ex, ey, mx.shape[1], mx.shape[0], mx, my)
    return 0
