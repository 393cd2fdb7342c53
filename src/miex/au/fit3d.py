"""Pose-robust AU estimation: a 3D blendshape fit of a whole clip's 68 landmarks.

Model (weak perspective, one camera per frame), for frame t and landmark i::

    l_ti = s_t * R_t[:2] @ (T_i + sum_k beta_k I_ki + sum_j z_tj E_ji) + tau_t

* ``T`` ICT-FaceKit's neutral mesh, ``I`` its identity PCA modes (one identity ``beta`` per
  clip, prior N(0, 1) per mode), ``E`` the 17 AU rows in 3D (:mod:`miex.au.model3d`; their
  x, y are the generator's rows, so the fit reads back what the warp renders);
* ``R_t, s_t, tau_t`` rotation, scale and image translation of frame t;
* ``z_t >= 0`` the AU intensities.

The fit starts from a 2D similarity per frame and :data:`POSE_STEPS` pose-only Gauss-Newton
steps, then alternates (:data:`ITERATIONS` rounds):

1. pose and AUs: one joint Gauss-Newton step per frame, all frames in one batch
   (:func:`_joint_step`: the pose update is eliminated from the normal equations, ``z >= 0``
   solved by NNLS on the remaining 17 x 17 system) with a ridge (:data:`RIDGE`), a small L1
   penalty (:data:`SPARSITY`) and a temporal penalty pulling ``z_t`` towards the mean of its
   neighbours' current estimates (:data:`SMOOTH`);
2. identity: ridge-regularised least squares over (up to :data:`IDENTITY_FRAMES`) frames
   (:data:`IDENTITY_PRIOR`);
3. Huber reweighting (:data:`HUBER`) of every landmark from its residual (IOD), so a landmark
   that dlib misplaces stops pulling the fit (IRLS).

dlib's jaw contour (0-16) counts :data:`JAW_WEIGHT`: it is a silhouette, not fixed skin points,
and slides along the face under yaw. In the absolute fit it informs pose and identity only
(:data:`CONTOUR_FREE_AUS`).

``reference`` selects the intensity the fit reports:

* ``"absolute"``: z against ICT's neutral face with the clip's fitted identity; needs no
  neutral frame (like OpenFace's intensities);
* an int ``r``: relative to frame ``r`` (the onset of a micro-expression clip): frame r's
  whole fitted shape (identity + its expression) plus its landmark residual lifted into 3D
  becomes the neutral and z >= 0 is solved on top of it; row r is zero. ``tracks`` (dense
  points followed by optical flow, :mod:`miex.au.flow`) can join this solve.

Per frame the fit reports ``rms`` (robust residual, IOD), ``confidence`` in [0, 1] and
``success``. The approach is the landmark-driven blendshape tracking of e.g. Cao et al.,
"FaceWarehouse: a 3D facial expression database for visual computing" (IEEE TVCG 2014), with a
weak-perspective camera, reduced to 68 sparse landmarks (plus optional flow tracks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from miex.au.basis import similarity, single_threaded_blas
from miex.au.model3d import FaceModel3D, load_face_model
from miex.au.nnls import nnls_qp
from miex.au.space import N_AUS
from miex.errors import MiexError

#: Alternation rounds (pose, AUs, identity).
ITERATIONS = 8
#: Gauss-Newton pose steps per round.
POSE_STEPS = 2
#: Ridge on z (IOD^2 per unit z^2): an AU at intensity z costs sqrt(RIDGE) * z IOD of misfit.
RIDGE = 0.002
#: L1 penalty on z (IOD^2 per unit z; z >= 0, so it is linear): favours few active AUs. It
#: enters the bounded least squares through the ridge rows (rho z^2 + 2 c z = (sqrt(rho) z + c / sqrt(rho))^2 + const).
SPARSITY = 0.0005
#: Temporal penalty (IOD^2 per unit z^2) towards the mean of the neighbouring frames' z.
SMOOTH = 0.01
#: Identity prior (IOD^2 per standard deviation^2), against the mean data term of the frames.
IDENTITY_PRIOR = 0.0001
#: Frames (evenly spread) used for the identity solve.
IDENTITY_FRAMES = 48
#: Huber threshold on a landmark's residual (IOD).
HUBER = 0.03
#: Weight of the jaw contour landmarks 0-16.
JAW_WEIGHT = 0.3
#: Residual RMS (IOD) at which the confidence is exp(-1) = 0.37. dlib on clean frames of real faces
#: leaves 0.01-0.03 IOD against the fitted model (confidence 0.91-0.99); 0.047 IOD gives 0.8,
#: the usual OpenFace cut (miex.au.openface.DEFAULT_MIN_CONFIDENCE).
CONFIDENCE_SCALE = 0.1
#: Frames whose robust residual RMS exceeds this (IOD) are reported as failed (success 0).
MAX_RMS = 0.12
#: Rounds of the relative solve (reference frame's shape as the neutral).
RELATIVE_ITERATIONS = 3
#: Damping of the rotation update (IOD^2 per rad^2) in the joint step.
POSE_DAMPING = 1e-4
#: Weight of each tracked dense point (452 of them) against a landmark's 1.
DENSE_WEIGHT = 0.3
#: Whether the AU rows ignore the jaw contour (see :func:`_contour_free`) in the absolute fit.
#: Against the ICT neutral, a face's own contour (its width, its jaw line as dlib places it)
#: reads as AU6/AU17/AU26 otherwise (Grace Hopper's absolute AU6 was 1.0 in every frame); the
#: relative solve keeps the contour, which there moves only with the expression.
CONTOUR_FREE_AUS = True
#: Largest intensity the solver may use (outputs are clipped to [0, 1]).
Z_MAX = 1.5

_BASE_WEIGHTS = np.ones(68)
_BASE_WEIGHTS[0:17] = JAW_WEIGHT


@dataclass
class ClipFit:
    """Result of :func:`fit_clip` for T frames."""

    z: np.ndarray  # (T, 17) in [0, 1]
    z_absolute: np.ndarray  # (T, 17) absolute intensities (before any reference)
    beta: np.ndarray  # (K,) identity
    rotation: np.ndarray  # (T, 3, 3)
    scale: np.ndarray  # (T,) pixels per IOD
    translation: np.ndarray  # (T, 2) pixels
    rms: np.ndarray  # (T,) robust residual RMS (IOD)
    confidence: np.ndarray  # (T,) in [0, 1]
    success: np.ndarray  # (T,) bool
    reference: str | int

    def angles(self) -> np.ndarray:
        """(T, 3) head pose (pitch, yaw, roll) in degrees, ``R = Rz(roll) Ry(yaw) Rx(pitch)``."""
        r = self.rotation
        yaw = np.degrees(np.arcsin(np.clip(-r[:, 2, 0], -1.0, 1.0)))
        pitch = np.degrees(np.arctan2(r[:, 2, 1], r[:, 2, 2]))
        roll = np.degrees(np.arctan2(r[:, 1, 0], r[:, 0, 0]))
        return np.stack([pitch, yaw, roll], 1)


# --------------------------------------------------------------------------- geometry


def rotvec_to_matrix(w: np.ndarray) -> np.ndarray:
    """Rodrigues: (n, 3) rotation vectors -> (n, 3, 3) matrices."""
    w = np.asarray(w, dtype=np.float64)
    theta = np.linalg.norm(w, axis=1)
    k = np.where(theta[:, None] > 1e-12, w / np.maximum(theta, 1e-12)[:, None], 0.0)
    kx = np.zeros((len(w), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2] = -k[:, 2], k[:, 1]
    kx[:, 1, 0], kx[:, 1, 2] = k[:, 2], -k[:, 0]
    kx[:, 2, 0], kx[:, 2, 1] = -k[:, 1], k[:, 0]
    s, c = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    return np.eye(3)[None] + s * kx + (1 - c) * (kx @ kx)


def euler_to_matrix(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """``Rz(roll) Ry(yaw) Rx(pitch)`` (degrees) in the template frame (x right, y down, z away)."""
    a, b, c = np.radians([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def project(shape: np.ndarray, rotation: np.ndarray, scale: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """(T, N, 2) image points of shapes (T, N, 3) under weak-perspective cameras."""
    rotated = np.matmul(shape, np.swapaxes(rotation, 1, 2))
    return scale[:, None, None] * rotated[..., :2] + translation[:, None, :]


# --------------------------------------------------------------------------- fit


def _contour_free(rows: np.ndarray) -> np.ndarray:
    """AU rows with the jaw contour (landmarks 0-16) not moving: the contour then informs
    pose and identity only."""
    out = rows.copy()
    out[:, :17] = 0.0
    out.setflags(write=False)
    return out


class _State:
    """Unknowns and weights of a clip fit."""

    def __init__(self, model: FaceModel3D, landmarks: np.ndarray) -> None:
        n = len(landmarks)
        self.model = model
        self.obs = landmarks
        self.beta = np.zeros(model.n_identity)
        self.z = np.zeros((n, N_AUS))
        self.base = np.broadcast_to(model.template, (n, 68, 3)).copy()  # neutral shape per frame
        self.rotation = np.zeros((n, 3, 3))
        self.scale = np.zeros(n)
        self.translation = np.zeros((n, 2))
        for t in range(n):
            sim = similarity(model.template[:, :2], landmarks[t], _BASE_WEIGHTS)
            s = float(np.hypot(*sim[:, 0]))
            c, si = sim[0, 0] / s, sim[1, 0] / s
            self.rotation[t] = [[c, -si, 0.0], [si, c, 0.0], [0.0, 0.0, 1.0]]
            self.scale[t] = s
            self.translation[t] = sim[:, 2]
        self.rows = _contour_free(model.expressions) if CONTOUR_FREE_AUS else model.expressions  # (17, N, 3)
        self.point_weights = _BASE_WEIGHTS  # (N,) weight of each observed point
        self.weights = np.broadcast_to(_BASE_WEIGHTS, (n, 68)).copy()
        self.identity_pairs = _identity_pairs(model.identity)

    def add_points(self, base: np.ndarray, rows: np.ndarray, obs: np.ndarray, weights: np.ndarray) -> None:
        """Observe more points: per-frame neutral positions ``base`` (T, M, 3), AU rows
        (17, M, 3), image positions ``obs`` (T, M, 2; NaN = not seen), weights (M,)."""
        seen = np.isfinite(obs).all(axis=2)
        self.base = np.concatenate([self.base, base], axis=1)
        self.rows = np.concatenate([self.rows, rows], axis=1)
        self.obs = np.concatenate([self.obs, np.where(seen[..., None], obs, 0.0)], axis=1)
        self.point_weights = np.r_[self.point_weights, weights]
        self.weights = np.concatenate([self.weights, np.where(seen, weights[None], 0.0)], axis=1)
        self.seen = np.concatenate([np.ones((len(obs), 68), bool), seen], axis=1)

    def shapes(self) -> np.ndarray:
        k, n, c = self.rows.shape
        return self.base + (self.z @ self.rows.reshape(k, n * c)).reshape(-1, n, c)

    def rotated(self) -> np.ndarray:
        """(T, 3, N) every frame's current shape under its rotation, coordinate-major."""
        return np.matmul(self.rotation, np.swapaxes(self.shapes(), 1, 2))

    def residual(self, rotated: np.ndarray | None = None) -> np.ndarray:
        """(T, 2, N) residuals (prediction - observation) in IOD, coordinate-major (x and y as
        plain (T, N) rows); ``rotated``: :meth:`rotated` when already at hand."""
        yt = self.rotated() if rotated is None else rotated
        inv_s = 1.0 / self.scale[:, None]
        return np.stack([yt[:, 0] + (self.translation[:, :1] - self.obs[..., 0]) * inv_s,
                         yt[:, 1] + (self.translation[:, 1:] - self.obs[..., 1]) * inv_s], axis=1)


def _pose_step(st: _State) -> None:
    shapes = st.shapes()
    y = np.matmul(shapes, np.swapaxes(st.rotation, 1, 2))  # rotated (T, N, 3)
    s = st.scale[:, None]
    pred = s[..., None] * y[..., :2] + st.translation[:, None, :]
    r = pred - st.obs  # (T, 68, 2) pixels
    n = len(st.obs)
    jac = np.zeros((n, shapes.shape[1], 2, 6))
    jac[:, :, 0, 1], jac[:, :, 0, 2] = s * y[..., 2], -s * y[..., 1]
    jac[:, :, 1, 0], jac[:, :, 1, 2] = -s * y[..., 2], s * y[..., 0]
    jac[:, :, 0, 3], jac[:, :, 1, 3] = y[..., 0], y[..., 1]
    jac[:, :, 0, 4], jac[:, :, 1, 5] = 1.0, 1.0
    w = np.repeat(st.weights[:, :, None], 2, axis=2).reshape(n, -1)
    j = jac.reshape(n, -1, 6)
    jw = j * w[..., None]
    h = np.matmul(np.swapaxes(jw, 1, 2), j)
    g = np.matmul(np.swapaxes(jw, 1, 2), r.reshape(n, -1, 1))[..., 0]
    h += 1e-9 * (st.scale**2)[:, None, None] * np.eye(6)[None]
    delta = -np.linalg.solve(h, g[..., None])[..., 0]
    delta[:, :3] = np.clip(delta[:, :3], -0.3, 0.3)
    st.rotation = rotvec_to_matrix(delta[:, :3]) @ st.rotation
    st.scale = np.maximum(st.scale + delta[:, 3], 1e-6)
    st.translation = st.translation + delta[:, 4:]


def _joint_step(st: _State, smooth: float, frozen: np.ndarray | None = None) -> None:
    """One Gauss-Newton step on pose and AUs together per frame, with z >= 0.

    Separate pose and AU steps converge slowly (pitch and the brow/mouth rows, or yaw and
    asymmetric motion, are correlated). Per frame the linearised problem in (pose step dp,
    new z) is solved exactly, all frames at once: from the normal equations
    (:func:`_normal_equations`) dp is eliminated (Schur complement), z solved by
    non-negative least squares on the remaining 17 x 17 system (:func:`miex.au.nnls.nnls_qp`,
    started from the current z's support), then dp by back-substitution. ``frozen`` frames
    keep their z and update the pose only. The pose step's translation part is in IOD (the
    pixel step is ``s`` times it).
    """
    h, g = _normal_equations(st, smooth)
    hpz = h[:, :6, 6:]
    elim = np.linalg.solve(h[:, :6, :6], np.concatenate([hpz, g[:, :6, None]], axis=2))  # Hpp^-1 [Hpz | gp]
    hzp = np.swapaxes(hpz, 1, 2)
    schur = h[:, 6:, 6:] - hzp @ elim[..., :N_AUS]
    rhs = g[:, 6:] - (hzp @ elim[..., N_AUS:])[..., 0]
    keep = np.zeros(len(st.z), bool) if frozen is None else np.asarray(frozen, bool)
    u = st.z.copy()
    u[~keep] = np.minimum(nnls_qp(schur[~keep], rhs[~keep], start=st.z[~keep] > 0), Z_MAX)
    delta = elim[..., N_AUS] - (elim[..., :N_AUS] @ u[..., None])[..., 0]
    st.rotation = rotvec_to_matrix(np.clip(delta[:, :3], -0.3, 0.3)) @ st.rotation
    st.translation = st.translation + st.scale[:, None] * delta[:, 4:6]
    st.scale = np.maximum(st.scale * (1.0 + delta[:, 3]), 1e-6)
    st.z = u


def _normal_equations(st: _State, smooth: float) -> tuple[np.ndarray, np.ndarray]:
    """Per frame the normal equations (T, 23, 23) and right-hand sides (T, 23) of the joint
    step's weighted least squares in (dp, u): dp = (rotation vector, relative scale step,
    translation step in IOD), u = the new z. Rows: the landmark residuals (IOD) linearised
    around the current fit, the ridge and L1 terms on u, the rotation damping, and the
    temporal pull of u towards its neighbours' mean.

    The weighted Jacobian is built per image coordinate, (T, 2, 23, N) with the points last,
    so its AU part is one matrix product and the normal equations plain batched products.
    """
    n, m = st.obs.shape[:2]
    yt = st.rotated()
    sw = np.sqrt(st.weights)[:, None, :]  # (T, 1, N)
    res = st.residual(yt) * sw
    jac = np.empty((n, 2, 6 + N_AUS, m))
    jac[:, :, :6] = 0.0
    jx, jy = jac[:, 0], jac[:, 1]
    jx[:, 1], jx[:, 2], jx[:, 3], jx[:, 4] = yt[:, 2], -yt[:, 1], yt[:, 0], 1.0
    jy[:, 0], jy[:, 2], jy[:, 3], jy[:, 5] = -yt[:, 2], yt[:, 0], yt[:, 1], 1.0
    rows = np.moveaxis(st.rows, 2, 0).reshape(3, -1)  # (3, 17 N)
    jac[:, :, 6:] = (st.rotation[:, :2].reshape(2 * n, 3) @ rows).reshape(n, 2, N_AUS, m)
    jac *= sw[:, :, None, :]
    h = (jac @ np.swapaxes(jac, 2, 3)).sum(axis=1)
    # rhs A^T b with b = J_z z0 - residual (the new z enters as unknown, not as a step)
    g = (h[:, :, 6:] @ st.z[..., None])[..., 0] - (jac @ res[..., None]).sum(axis=1)[..., 0]
    idx = np.arange(3)
    h[:, idx, idx] += POSE_DAMPING
    idx = np.arange(6, 6 + N_AUS)
    h[:, idx, idx] += RIDGE
    g[:, 6:] -= SPARSITY
    if smooth > 0:
        h[:, idx, idx] += smooth
        g[:, 6:] += smooth * _neighbour_mean(st.z)
    return h, g


def _neighbour_mean(z: np.ndarray) -> np.ndarray:
    if len(z) == 1:
        return z.copy()
    padded = np.vstack([z[1:2], z, z[-2:-1]])
    return 0.5 * (padded[:-2] + padded[2:])


def _identity_pairs(identity: np.ndarray) -> np.ndarray:
    """(68 * 9, K * K) products ``I[:, i, d] I[:, i, e]^T`` of the identity modes (K, 68, 3) per
    landmark i and coordinate pair (d, e): with them the identity's normal matrix is one
    product per solve instead of a (frames x 136, K) design."""
    k, n, _ = identity.shape
    modes = np.ascontiguousarray(identity.transpose(1, 2, 0))  # (68, 3, K)
    return (modes[:, :, None, :, None] * modes[:, None, :, None, :]).reshape(n * 9, k * k)


def _solve_identity(st: _State) -> None:
    """Ridge-regularised least squares for ``beta`` over (up to :data:`IDENTITY_FRAMES`) frames,
    pose and z fixed. Frame t's design for landmark i is ``R_t[:2] I_i`` (I_i the modes' (K, 3)
    displacements), so its normal matrix is ``sum_i,d,e c_ide I_id I_ie^T`` with
    ``c_ide = sum_t w_ti (R_t[:2]^T R_t[:2])_de``."""
    n = len(st.obs)
    pick = np.unique(np.linspace(0, n - 1, min(n, IDENTITY_FRAMES)).round().astype(int))
    model, f = st.model, len(pick)
    rot, w = st.rotation[pick, :2], st.weights[pick, :68]
    shapes = model.template[None] + (st.z[pick] @ model.expressions.reshape(N_AUS, -1)).reshape(f, 68, 3)
    pred = project(shapes, rot, np.ones(f), np.zeros((f, 2)))
    rhs = (st.obs[pick, :68] - st.translation[pick, None, :]) / st.scale[pick, None, None] - pred  # (F, 68, 2)
    coef = w.T @ (np.swapaxes(rot, 1, 2) @ rot).reshape(f, 9)  # (68, 9)
    h = (coef.reshape(-1) @ st.identity_pairs).reshape(model.n_identity, -1) / f
    lifted = np.einsum("ti,tid->id", w, rhs @ rot)  # (68, 3): sum_t w_ti R_t[:2]^T rhs_ti
    g = model.identity.reshape(model.n_identity, -1) @ lifted.reshape(-1) / f
    st.beta = np.linalg.solve(h + IDENTITY_PRIOR * np.eye(model.n_identity), g)
    st.base = np.broadcast_to(model.shape(st.beta), st.base.shape).copy()


def _lengths(res: np.ndarray) -> np.ndarray:
    """(T, N) lengths of coordinate-major residuals (T, 2, N) (np.hypot is several times slower)."""
    return np.sqrt(res[:, 0] ** 2 + res[:, 1] ** 2)


def _reweight(st: _State) -> np.ndarray:
    norm = _lengths(st.residual())
    huber = np.where(norm <= HUBER, 1.0, HUBER / np.maximum(norm, 1e-12))
    st.weights = st.point_weights[None] * huber
    if hasattr(st, "seen"):
        st.weights = np.where(st.seen, st.weights, 0.0)
    return norm


def _rms(st: _State) -> np.ndarray:
    norm = _lengths(st.residual()[..., :68])
    w = _BASE_WEIGHTS[None] * np.where(norm <= HUBER, 1.0, HUBER / np.maximum(norm, 1e-12))
    return np.sqrt((w * norm**2).sum(1) / w.sum(1))


def _lifted_reference(st: _State, r: int) -> np.ndarray:
    """Frame ``r``'s fitted shape plus its residual lifted into 3D (the image-plane misfit
    rotated back into the model frame, no depth change), so that it reprojects exactly onto
    frame r's landmarks: whatever the model cannot explain about this face (identity beyond
    the PCA, dlib's personal bias) becomes part of the neutral, as in the 2D method."""
    shape = st.shapes()[r]
    res = -st.residual()[r]  # (2, N) IOD, observation - prediction
    lift = np.column_stack([res[0], res[1], np.zeros(res.shape[1])]) @ st.rotation[r]  # R^T applied to each row
    return shape + lift


def _add_tracks(st: _State, tracks: np.ndarray, r: int) -> None:
    """Add the dense points tracked from frame ``r`` as observations of the relative solve."""
    model = st.model
    n, m = len(st.obs), model.dense_template.shape[0] - 68
    if tracks.shape != (n, m, 2):
        raise MiexError(f"tracks must be ({n}, {m}, 2), got {tracks.shape}")
    p0 = tracks[r]
    ok = np.isfinite(p0).all(axis=1)
    depth = (model.dense_template[68:] @ st.rotation[r].T)[:, 2]
    cam = np.column_stack([(np.where(ok[:, None], p0, 0.0) - st.translation[r]) / st.scale[r], depth])
    base = cam @ st.rotation[r]  # back into the model frame
    obs = np.where(ok[None, :, None], tracks, np.nan)
    st.add_points(np.broadcast_to(base, (n, m, 3)).copy(), model.dense_expressions[:, 68:], obs, np.full(m, DENSE_WEIGHT))


def _fit_absolute(st: _State, smooth: float, iterations: int) -> None:
    """Pose steps, then ``iterations`` rounds of joint step, identity and reweighting, and a
    last joint step: z against ICT's neutral with the clip's identity."""
    for _ in range(POSE_STEPS):
        _pose_step(st)
    for it in range(iterations):
        _joint_step(st, smooth)
        _solve_identity(st)
        if it >= 1:
            _reweight(st)
    _joint_step(st, smooth)


def _fit_relative(st: _State, r: int, smooth: float, tracks: np.ndarray | None) -> None:
    """Re-solve z >= 0 against frame ``r``'s lifted shape (row r frozen at zero), with the
    dense-flow ``tracks`` as extra observations when given."""
    st.base = np.broadcast_to(_lifted_reference(st, r), st.base.shape).copy()
    st.rows = st.model.expressions  # against a lifted reference the contour is this face's own
    if tracks is not None:
        _add_tracks(st, np.asarray(tracks, dtype=np.float64), r)
    st.z = np.zeros_like(st.z)
    frozen = np.zeros(len(st.z), bool)
    frozen[r] = True
    for _ in range(RELATIVE_ITERATIONS):
        _joint_step(st, smooth, frozen)
        _reweight(st)
    _joint_step(st, smooth, frozen)


def check_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """(T, 68, 2) finite float landmarks or :class:`MiexError`."""
    arr = np.asarray(landmarks, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (68, 2) or len(arr) == 0 or not np.all(np.isfinite(arr)):
        raise MiexError(f"landmarks must be (T, 68, 2) finite, got shape {arr.shape}")
    return arr


def fit_clip(
    landmarks: np.ndarray,
    *,
    reference: str | int = "absolute",
    smooth: float = SMOOTH,
    model: FaceModel3D | None = None,
    iterations: int = ITERATIONS,
    tracks: np.ndarray | None = None,
) -> ClipFit:
    """Fit the 3D model to a clip's landmarks (T, 68, 2) in pixels (frames in time order).

    ``reference``: ``"absolute"`` or the index of the reference frame (see the module
    docstring). ``smooth``: temporal penalty (0 treats frames independently).
    ``tracks`` (relative reference only): (T, 452, 2) image positions of the non-landmark
    dense points (:mod:`miex.au.flow`, NaN where not tracked; row ``reference`` = where they
    are in the reference frame); they join the relative solve with weight :data:`DENSE_WEIGHT`.
    """
    obs = check_landmarks(landmarks)
    n = len(obs)
    if not (reference == "absolute" or (isinstance(reference, (int, np.integer)) and 0 <= int(reference) < n)):
        raise MiexError(f"reference must be 'absolute' or a frame index in 0..{n - 1}, got {reference!r}")
    st = _State(model if model is not None else load_face_model(), obs)
    with single_threaded_blas():  # the batched products are small: threads only contend
        _fit_absolute(st, smooth, iterations)
        z_abs = st.z.copy()
        if reference != "absolute":
            _fit_relative(st, int(reference), smooth, tracks)
        rms = _rms(st)
    ok = np.isfinite(rms) & (rms <= MAX_RMS)
    z = np.clip(st.z, 0.0, 1.0)
    z[z < 1e-9] = 0.0
    return ClipFit(
        z=z,
        z_absolute=np.clip(z_abs, 0.0, 1.0),
        beta=st.beta,
        rotation=st.rotation,
        scale=st.scale,
        translation=st.translation,
        rms=rms,
        confidence=np.exp(-((rms / CONFIDENCE_SCALE) ** 2)),
        success=ok,
        reference=reference if reference == "absolute" else int(reference),
    )
