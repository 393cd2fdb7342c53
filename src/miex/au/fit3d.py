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

1. pose and AUs: one joint Gauss-Newton step per frame (:func:`_joint_step`: the pose update is
   eliminated by projection, ``z >= 0`` solved by NNLS) with a ridge (:data:`RIDGE`), a small
   L1 penalty (:data:`SPARSITY`) and a temporal penalty pulling ``z_t`` towards the mean of its
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

from miex.au.basis import similarity
from miex.au.model3d import FaceModel3D, load_face_model
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

    def residual(self) -> np.ndarray:
        """(T, N, 2) residuals in IOD."""
        pred = project(self.shapes(), self.rotation, self.scale, self.translation)
        return (pred - self.obs) / self.scale[:, None, None]


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
    new z) is solved exactly: dp is eliminated by projecting on the orthogonal complement of
    the pose Jacobian, z by non-negative least squares, then dp by back-substitution.
    """
    from scipy.optimize import nnls

    shapes = st.shapes()
    y = np.matmul(shapes, np.swapaxes(st.rotation, 1, 2))
    n = len(st.obs)
    r = (st.scale[:, None, None] * y[..., :2] + st.translation[:, None, :] - st.obs) / st.scale[:, None, None]
    jp = np.zeros((n, shapes.shape[1], 2, 6))  # pose Jacobian in IOD (pixels / s)
    jp[:, :, 0, 1], jp[:, :, 0, 2] = y[..., 2], -y[..., 1]
    jp[:, :, 1, 0], jp[:, :, 1, 2] = -y[..., 2], y[..., 0]
    jp[:, :, 0, 3], jp[:, :, 1, 3] = y[..., 0], y[..., 1]
    jp[:, :, 0, 4] = jp[:, :, 1, 5] = 1.0 / st.scale[:, None]
    jz = _expression_design(st, st.rows)  # (T, 2N, 17) in IOD
    prior = _neighbour_mean(st.z)
    eye = np.eye(N_AUS)
    damp = np.sqrt(POSE_DAMPING) * np.diag([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    zeros_p, zeros_z = np.zeros((N_AUS, 6)), np.zeros((6, N_AUS))
    for t in range(n):
        sw = np.sqrt(np.repeat(st.weights[t], 2))
        z0 = st.z[t]
        a_p = [jp[t].reshape(-1, 6) * sw[:, None], zeros_p, damp]
        a_z = [jz[t] * sw[:, None], np.sqrt(RIDGE) * eye, zeros_z]
        # right-hand side for the new z (u = z0 + dz): b + A_z z0
        rhs = [(jz[t] @ z0 - r[t].reshape(-1)) * sw, np.full(N_AUS, -SPARSITY / np.sqrt(RIDGE)), np.zeros(6)]
        if smooth > 0:
            a_p.append(zeros_p)
            a_z.append(np.sqrt(smooth) * eye)
            rhs.append(np.sqrt(smooth) * prior[t])
        ap, az, b = np.vstack(a_p), np.vstack(a_z), np.concatenate(rhs)
        q, rr = np.linalg.qr(ap)
        if frozen is not None and frozen[t]:
            u = z0
        else:
            u, _ = nnls(az - q @ (q.T @ az), b - q @ (q.T @ b), maxiter=200)
            u = np.minimum(u, Z_MAX)
        delta = np.linalg.solve(rr, q.T @ (b - az @ u))
        w = np.clip(delta[:3], -0.3, 0.3)
        st.rotation[t] = rotvec_to_matrix(w[None])[0] @ st.rotation[t]
        st.scale[t] = max(st.scale[t] * (1.0 + delta[3]), 1e-6)
        st.translation[t] = st.translation[t] + delta[4:6]
        st.z[t] = u


def _expression_design(st: _State, rows: np.ndarray) -> np.ndarray:
    """(T, 2N, n) image-plane effect (IOD) of each row (n, N, 3) under every frame's rotation."""
    k, n, _ = rows.shape
    rot = np.tensordot(st.rotation[:, :2], rows, axes=([2], [2]))  # (T, 2, n, N)
    return rot.transpose(0, 3, 1, 2).reshape(len(st.obs), 2 * n, k)


def _neighbour_mean(z: np.ndarray) -> np.ndarray:
    if len(z) == 1:
        return z.copy()
    padded = np.vstack([z[1:2], z, z[-2:-1]])
    return 0.5 * (padded[:-2] + padded[2:])


def _solve_identity(st: _State) -> None:
    n = len(st.obs)
    pick = np.unique(np.linspace(0, n - 1, min(n, IDENTITY_FRAMES)).round().astype(int))
    model = st.model
    design = _expression_design(st, model.identity)[pick]  # (F, 136, K)
    shapes = model.template[None] + (st.z[pick] @ model.expressions.reshape(N_AUS, -1)).reshape(len(pick), 68, 3)
    pred = project(shapes, st.rotation[pick], np.ones(len(pick)), np.zeros((len(pick), 2)))
    rhs = ((st.obs[pick] - st.translation[pick, None, :]) / st.scale[pick, None, None] - pred).reshape(len(pick), -1)
    w = np.repeat(st.weights[pick], 2, axis=1)
    flat = design.reshape(-1, design.shape[2])
    fw = flat * w.reshape(-1, 1)
    h = fw.T @ flat / len(pick)
    g = fw.T @ rhs.reshape(-1) / len(pick)
    st.beta = np.linalg.solve(h + IDENTITY_PRIOR * np.eye(model.n_identity), g)
    st.base = np.broadcast_to(model.shape(st.beta), st.base.shape).copy()


def _reweight(st: _State) -> np.ndarray:
    norm = np.linalg.norm(st.residual(), axis=2)  # (T, N)
    huber = np.where(norm <= HUBER, 1.0, HUBER / np.maximum(norm, 1e-12))
    st.weights = st.point_weights[None] * huber
    if hasattr(st, "seen"):
        st.weights = np.where(st.seen, st.weights, 0.0)
    return norm


def _rms(st: _State) -> np.ndarray:
    norm = np.linalg.norm(st.residual()[:, :68], axis=2)
    w = _BASE_WEIGHTS[None] * np.where(norm <= HUBER, 1.0, HUBER / np.maximum(norm, 1e-12))
    return np.sqrt((w * norm**2).sum(1) / w.sum(1))


def _lifted_reference(st: _State, r: int) -> np.ndarray:
    """Frame ``r``'s fitted shape plus its residual lifted into 3D (the image-plane misfit
    rotated back into the model frame, no depth change), so that it reprojects exactly onto
    frame r's landmarks: whatever the model cannot explain about this face (identity beyond
    the PCA, dlib's personal bias) becomes part of the neutral, as in the 2D method."""
    shape = st.shapes()[r]
    res = -st.residual()[r]  # (N, 2) IOD, observation - prediction
    lift = np.hstack([res, np.zeros((len(res), 1))]) @ st.rotation[r]  # R^T applied to each row
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
    for _ in range(POSE_STEPS):
        _pose_step(st)
    for it in range(iterations):
        _joint_step(st, smooth)
        _solve_identity(st)
        if it >= 1:
            _reweight(st)
    _joint_step(st, smooth)
    z_abs = st.z.copy()
    if reference != "absolute":
        r = int(reference)
        st.base = np.broadcast_to(_lifted_reference(st, r), st.base.shape).copy()
        st.rows = st.model.expressions  # against a lifted reference the contour is this face's own
        if tracks is not None:
            _add_tracks(st, np.asarray(tracks, dtype=np.float64), r)
        st.z = np.zeros_like(st.z)
        frozen = np.zeros(n, bool)
        frozen[r] = True
        for _ in range(RELATIVE_ITERATIONS):
            _joint_step(st, smooth, frozen)
            _reweight(st)
        _joint_step(st, smooth, frozen)
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
