"""The AU -> displacement basis (ICT-FaceKit + py-feat), calibrated for miex.

The raw rows ship as package data in ``miex/data/au_basis`` (see its README for sources,
licences and the method). Everything here is 2D, in the *template frame*: origin at the
midpoint of the eye centres, x to the image right, y down, unit = inter-ocular distance (IOD).

A face with AU vector ``z`` (17 values in [0, 1], order :data:`miex.au.space.AU_NAMES`) has
points ``template + sum_k z_k * d_k``; ``d_k`` is :attr:`AUBasis.dense` (520 points, the first
68 are the iBUG landmarks) or :attr:`AUBasis.landmarks` (68 points). The generator
(:mod:`miex.generators.warp`) and the inverse estimator (:mod:`miex.au.estimate`) use the same
rows, so what one renders the other reads back.

All calibration choices live in :data:`ROWS` and :data:`SCALES` below.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from miex.au.space import AU_NAMES, N_AUS

#: Which source row of ``au_landmarks_68.csv`` / ``au_dense.csv`` represents each miex AU.
#: Only the AUs listed here differ from the plain ICT row named like the AU ("AU01" -> "AU1").
ROWS: dict[str, str] = {
    # AU6: ICT's own FACS mapping (cheekSquint_L+R), one of the 53 ARKit-style shapes in ICT's
    # README. The alternative cheekRaiser OBJ is nearly the same motion (dense cosine 0.97) and
    # 14 % larger, but is an extra shape outside ICT's documented list.
    "AU06": "AU6",
    # AU10: ICT mouthShrugUpper (central upper lip up). The alternative mouthUpperUp is close to
    # AU9 noseSneer (cosine 0.88), so AU9 + AU10 would double-count the upper-lip raise.
    "AU10": "AU10",
    # AU23/AU25 are not in ICT; py-feat's PLS rows with the upper face (landmarks 0-47) zeroed and
    # left/right symmetrised, i.e. without the co-occurrence entanglement of the raw PLS rows
    # (raw AU25 also lowers the brows and lifts the nose by 2.6 % IOD).
    "AU23": "AU23_alt_mouthsym",
    "AU25": "AU25_alt_mouthsym",
}

#: Multipliers applied to the source rows: miex intensity 1.0 (OpenFace 5) = SCALES x source row.
SCALES: dict[str, float] = {
    # AU26 jaw drop: the source is ICT jawOpen, a maximal AU27-like mouth stretch (lips 0.50 IOD
    # apart, about 32 mm at an IOD of 64 mm). A relaxed jaw drop at FACS intensity E opens the
    # mouth to roughly 40 % of a maximal opening, so AU26 = 1.0 opens the lips by
    # 0.4 x 0.50 = 0.20 IOD (~13 mm) and lowers the chin by 0.17 IOD. A warp cannot synthesise
    # a mouth interior, which is a second reason not to go larger.
    "AU26": 0.4,
    # AU23/AU25: py-feat's "1" means "AU present" (binary training inputs). Projecting py-feat
    # rows on the ICT rows of the AUs both sources have gives py-feat 1 ~ 0.3 ICT weight
    # (AU1 0.31, AU4 0.30, AU10 0.38, AU2 0.14), so x3 puts them on the ICT scale: AU25 = 1.0
    # parts the lips by 3 x 0.089 = 0.27 IOD (py-feat's AU25 absorbs the jaw drop it co-occurs
    # with, hence a little more than AU26's 0.20); AU23 = 1.0 moves the lip corners 0.066 IOD.
    "AU23": 3.0,
    "AU25": 3.0,
}

#: py-feat rows exist on the 68 landmarks only. Their dense extension (:func:`_extend_to_dense`)
#: interpolates the landmark rows with a thin-plate spline, with every dense point farther than
#: this (IOD) from the mouth landmarks 48-67 held at zero displacement.
PYFEAT_DENSE_RADIUS = 0.35

#: Lip contact: where an AU row moves the lower inner lip (65-67) up more than the upper inner
#: lip (61-63) above it (ICT AU17 chin raiser: by 0.106 IOD; AU14 0.031; AU23 0.021), the 2D
#: lips would pass through each other (in 3D the lower lip rolls in front), which a warp can
#: only show as a fold. As FACS describes for a strong AU17 ("the lower lip pushes the upper lip
#: up"), the excess rise is added to the upper lip, fading linearly from the inner lip to the
#: nose base (landmark 33). See :func:`_lip_contact`.
LIP_PAIRS = ((61, 67), (62, 66), (63, 65))

#: Lip gap (inner lip 62 -> 66, IOD) the raw ICT jawOpen row produces; AU26 = 1.0 opens
#: SCALES["AU26"] times this. Checked in tests/generators/test_basis.py.
RAW_JAWOPEN_LIP_GAP = 0.50


@dataclass(frozen=True)
class AUBasis:
    """Calibrated basis rows in the template frame (IOD units), AUs in ``AU_NAMES`` order."""

    template: np.ndarray  # (68, 2) neutral landmarks
    dense_points: np.ndarray  # (520, 2) neutral dense points; [:68] == template
    landmarks: np.ndarray  # (17, 68, 2) displacement of the landmarks at intensity 1
    dense: np.ndarray  # (17, 520, 2) displacement of the dense points at intensity 1
    mirror: np.ndarray  # (520,) index of each dense point's left/right mirror
    rows: tuple[str, ...]  # source row used for each AU
    scales: np.ndarray  # (17,) multiplier applied to each source row

    @property
    def n_dense(self) -> int:
        return int(self.dense_points.shape[0])

    def landmark_displacement(self, z: np.ndarray) -> np.ndarray:
        """(68, 2) landmark displacement for AU vector ``z`` (linear)."""
        return np.tensordot(np.asarray(z, dtype=np.float64), self.landmarks, axes=1)

    def dense_displacement(self, z: np.ndarray) -> np.ndarray:
        """(520, 2) dense displacement for AU vector ``z`` (linear)."""
        return np.tensordot(np.asarray(z, dtype=np.float64), self.dense, axes=1)


def _read_csv(name: str) -> list[dict[str, str]]:
    path = resources.files("miex").joinpath("data", "au_basis", name)
    with path.open("r", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _points(name: str, key: str) -> np.ndarray:
    rows = _read_csv(name)
    rows.sort(key=lambda r: int(r[key]))
    return np.array([[float(r["x"]), float(r["y"])] for r in rows], dtype=np.float64)


def _rows(name: str, key: str, n: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for r in _read_csv(name):
        arr = out.setdefault(r["au"], np.zeros((n, 2), dtype=np.float64))
        arr[int(r[key])] = (float(r["dx"]), float(r["dy"]))
    return out


def source_row_name(au: str) -> str:
    """Source row for miex AU name ``au`` (e.g. ``"AU01"`` -> ``"AU1"``)."""
    return ROWS.get(au, "AU" + str(int(au[2:])))


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) squared distances between point sets a (n, 2) and b (m, 2).

    Per coordinate (x, then y) on 2-D arrays: the same values as summing the broadcast
    (n, m, 2) differences, but without numpy's slow reduction over a length-2 axis."""
    dx = a[:, :1] - b[:, 0]
    dy = a[:, 1:2] - b[:, 1]
    dx *= dx
    dy *= dy
    dx += dy
    return dx


def tps_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Thin-plate kernel U(r) = r^2 log r between point sets a (n, 2) and b (m, 2)."""
    d2 = squared_distances(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 0.5 * d2 * np.log(d2)
    k[d2 == 0] = 0.0
    return k


def tps_fit(points: np.ndarray, values: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
    """Thin-plate spline coefficients (n + 3, c) interpolating ``values`` (n, c) at ``points``."""
    n = points.shape[0]
    k = tps_kernel(points, points) + smoothing * np.eye(n)
    p = np.hstack([np.ones((n, 1)), points])
    lhs = np.zeros((n + 3, n + 3))
    lhs[:n, :n] = k
    lhs[:n, n:] = p
    lhs[n:, :n] = p.T
    rhs = np.zeros((n + 3, values.shape[1]))
    rhs[:n] = values
    return np.linalg.solve(lhs, rhs)


def tps_eval(points: np.ndarray, coef: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Evaluate a thin-plate spline (from :func:`tps_fit` on ``points``) at ``at`` (m, 2)."""
    n = points.shape[0]
    return tps_kernel(at, points) @ coef[:n] + coef[n] + at @ coef[n + 1 :]


UPPER_LIP = (48, 49, 50, 51, 52, 53, 54, 60, 61, 62, 63, 64)
LOWER_LIP = (48, 54, 55, 56, 57, 58, 59, 60, 64, 65, 66, 67)


def _mouth_line_y(points: np.ndarray, x: np.ndarray) -> np.ndarray:
    """y of the closed-lip line (inner-lip midpoints 60, 61/67, 62/66, 63/65, 64) at ``x``."""
    mids = np.array(
        [points[60], (points[61] + points[67]) / 2, (points[62] + points[66]) / 2,
         (points[63] + points[65]) / 2, points[64]]
    )
    return np.interp(x, mids[:, 0], mids[:, 1])


def _extend_to_dense(row68: np.ndarray, dense_points: np.ndarray) -> np.ndarray:
    """Dense (520, 2) version of a mouth-only landmark row (py-feat AU23/AU25).

    The 68 landmark displacements are kept exactly (dense points 0-67 are the landmarks).
    Dense points farther than :data:`PYFEAT_DENSE_RADIUS` from the mouth landmarks 48-67 are
    held at zero. The others get a thin-plate interpolation of the landmark rows, done
    separately above and below the closed-lip line: the inner lips (62/66) start 0.012 IOD
    apart and move in opposite directions for AU25, and one spline through both overshoots
    by 3x between them.
    """
    n = dense_points.shape[0]
    mouth = dense_points[48:68]
    dist = np.sqrt(((dense_points[:, None, :] - mouth[None]) ** 2).sum(-1)).min(1)
    is_lm = np.arange(n) < 68
    pinned = (~is_lm) & (dist > PYFEAT_DENSE_RADIUS)
    free = (~is_lm) & (~pinned)
    values = np.zeros((n, 2))
    values[:68] = row68
    above = dense_points[:, 1] < _mouth_line_y(dense_points, dense_points[:, 0])
    out = values.copy()
    for lip, side in ((UPPER_LIP, above), (LOWER_LIP, ~above)):
        ctrl = pinned.copy()
        ctrl[:48] = True
        ctrl[list(lip)] = True
        coef = tps_fit(dense_points[ctrl], values[ctrl])
        sel = free & side
        out[sel] = tps_eval(dense_points[ctrl], coef, dense_points[sel])
    return out


def _lip_contact(row: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Row (n, 2) with the upper lip pushed up where the lower inner lip would cross it."""
    excess = np.array([max(0.0, row[upper, 1] - row[lower, 1]) for upper, lower in LIP_PAIRS])
    if not excess.any():
        return row
    xs = np.r_[points[60, 0], [points[u, 0] for u, _ in LIP_PAIRS], points[64, 0]]
    push_at = np.r_[0.0, excess, 0.0]
    upper_curve = points[[60, 61, 62, 63, 64]]
    nose_y = points[33, 1]
    x, y = points[:, 0], points[:, 1]
    lip_y = np.interp(x, upper_curve[:, 0], upper_curve[:, 1])
    inside = (x > xs[0]) & (x < xs[-1]) & (y > nose_y) & (y < _mouth_line_y(points, x))
    t = np.clip((y - nose_y) / np.maximum(lip_y - nose_y, 1e-9), 0.0, 1.0)
    out = row.copy()
    out[inside, 1] -= np.interp(x[inside], xs, push_at) * t[inside]
    return out


def single_threaded_blas():
    """Context limiting BLAS/LAPACK to one thread, so that the spline solves give the same
    bits in every process (OpenBLAS' parallel LU rounds differently with 1 and 2 threads,
    and renders must be byte-identical across local and Ray workers). threadpoolctl comes
    with scikit-learn; without it this is a no-op."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=1)


@lru_cache(maxsize=1)
def load_basis() -> AUBasis:
    """The calibrated basis (cached; arrays are read-only)."""
    with single_threaded_blas():
        return _load_basis()


def _load_basis() -> AUBasis:
    template = _points("template_68.csv", "landmark")
    dense_points = _points("dense_points.csv", "point")
    meta = sorted(_read_csv("dense_points_meta.csv"), key=lambda r: int(r["point"]))
    mirror = np.array([int(r["mirror_point"]) for r in meta], dtype=np.int64)
    rows68 = _rows("au_landmarks_68.csv", "landmark", 68)
    rows_dense = _rows("au_dense.csv", "point", dense_points.shape[0])

    lm = np.zeros((N_AUS, 68, 2))
    dense = np.zeros((N_AUS, dense_points.shape[0], 2))
    names, scales = [], np.ones(N_AUS)
    for k, au in enumerate(AU_NAMES):
        src = source_row_name(au)
        scales[k] = SCALES.get(au, 1.0)
        lm[k] = rows68[src]
        dense[k] = rows_dense[src] if src in rows_dense else _extend_to_dense(rows68[src], dense_points)
        names.append(src)
    dense *= scales[:, None, None]
    for k in range(N_AUS):
        dense[k] = _lip_contact(dense[k], dense_points)
    # The dense rows of the landmarks are the landmark rows (same vertices).
    lm = dense[:, :68].copy()
    for arr in (template, dense_points, lm, dense, mirror, scales):
        arr.setflags(write=False)
    return AUBasis(template, dense_points, lm, dense, mirror, tuple(names), scales)


def eye_centres(points68: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the image-left (36-41) and image-right (42-47) eyes."""
    p = np.asarray(points68, dtype=np.float64)
    return p[36:42].mean(0), p[42:48].mean(0)


def iod(points68: np.ndarray) -> float:
    """Inter-ocular distance (between the eye centres) of a 68-point set."""
    left, right = eye_centres(points68)
    return float(np.hypot(*(right - left)))


def similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity (2, 3) mapping ``src`` (n, 2) onto ``dst`` (Umeyama, no reflection)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    ms, md = w @ src, w @ dst
    a, b = src - ms, dst - md
    # Complex form: dst = c * src + t with c = s * exp(i theta).
    za = a[:, 0] + 1j * a[:, 1]
    zb = b[:, 0] + 1j * b[:, 1]
    c = (w * np.conj(za) * zb).sum() / (w * np.abs(za) ** 2).sum()
    m = np.array([[c.real, -c.imag], [c.imag, c.real]])
    return np.hstack([m, (md - m @ ms)[:, None]])


def apply_affine(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``pts`` (..., 2) under the (2, 3) affine ``m``, float64 (``cv2.transform``: one pass, far
    cheaper than a numpy product with a length-2 inner axis)."""
    import cv2

    arr = np.ascontiguousarray(pts, dtype=np.float64)
    if arr.size == 0:
        return arr @ m[:, :2].T + m[:, 2]
    out = cv2.transform(arr.reshape(-1, 1, 2), np.asarray(m, dtype=np.float64))
    return out.reshape(arr.shape)


def invert_affine(m: np.ndarray) -> np.ndarray:
    a = np.linalg.inv(m[:, :2])
    return np.hstack([a, (-a @ m[:, 2])[:, None]])
