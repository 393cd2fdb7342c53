"""3D blendshape fit (miex.au.fit3d, miex.au.model3d): model data, pose, robustness, references."""

from __future__ import annotations

import numpy as np
import pytest

from miex.au.basis import load_basis
from miex.au.estimate import estimate_z_2d
from miex.au.fit3d import euler_to_matrix, fit_clip, project
from miex.au.model3d import load_face_model
from miex.au.space import N_AUS, au_index
from miex.errors import MiexError
from miex.seeding import rng

T = 24
SCALE = 80.0  # pixels per IOD, a 640x480 recording's face


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def clip():
    """A clip drawn from the model itself: one random identity, random head poses (pitch
    +-10, yaw +-30, roll +-15 deg), random AU vectors (frame 0 neutral), 0.3 px landmark noise."""
    model = load_face_model()
    g = rng(0, "fit3d-test")
    beta = g.normal(size=model.n_identity)
    z = np.where(g.random((T, N_AUS)) < 0.3, g.uniform(0.1, 1.0, (T, N_AUS)), 0.0)
    z[0] = 0.0
    angles = np.column_stack([g.uniform(-10, 10, T), g.uniform(-30, 30, T), g.uniform(-15, 15, T)])
    rot = np.stack([euler_to_matrix(*a) for a in angles])
    shapes = np.stack([model.shape(beta, zz) for zz in z])
    lm = project(shapes, rot, np.full(T, SCALE), np.tile([320.0, 240.0], (T, 1)))
    lm = lm + g.normal(0.0, 0.3, lm.shape)
    return {"z": z, "angles": angles, "landmarks": lm, "beta": beta}


@pytest.fixture(scope="module")
def relative_fit(clip):
    return fit_clip(clip["landmarks"], reference=0, smooth=0.0)


def test_model_is_the_generator_basis_in_3d():
    model, basis = load_face_model(), load_basis()
    # one basis, two directions: x, y of the 3D rows are exactly the generator's rows
    np.testing.assert_array_equal(model.expressions[..., :2], basis.landmarks)
    np.testing.assert_array_equal(model.dense_expressions[..., :2], basis.dense)
    np.testing.assert_array_equal(model.template[:, :2], basis.template)
    assert model.identity.shape == (model.n_identity, 68, 3)
    # depth (z away from the viewer): the nose tip is in front of the eye corners, which are
    # in front of the jaw contour's ends
    t = model.template
    assert t[30, 2] < t[39, 2] < t[0, 2] and t[30, 2] < -0.4 and t[0, 2] > 0.5
    # py-feat's AU23/AU25 have no depth; ICT's AU12 (smile) moves the mouth corners in depth
    assert not model.expressions[au_index("AU23"), :, 2].any()
    assert np.abs(model.expressions[au_index("AU12"), 48, 2]) > 0.02


def test_pose_is_recovered(clip, relative_fit):
    err = np.abs(relative_fit.angles() - clip["angles"])
    assert err[:, 1].max() < 3.0 and err[:, 2].max() < 3.0, err.max(0)  # yaw, roll (measured < 0.5)
    assert err[:, 0].max() < 5.0, err.max(0)  # pitch trades off against vertical AU motion (measured 0.9)


def test_aus_are_recovered_across_head_poses_where_2d_fails(clip, relative_fit):
    z, lm = clip["z"], clip["landmarks"]
    old = np.array([estimate_z_2d(lm[0], lm[t]) for t in range(T)])
    r3d, r2d = _corr(z[1:], relative_fit.z[1:]), _corr(z[1:], old[1:])
    # measured: 3d 0.93, 2d 0.41 (yaw and pitch read as AUs by the 2D method)
    assert r3d > 0.8, r3d
    assert r3d > r2d + 0.25, (r3d, r2d)
    np.testing.assert_array_equal(relative_fit.z[0], 0.0)  # the reference row
    assert relative_fit.z.min() >= 0 and relative_fit.z.max() <= 1


def test_absolute_needs_no_neutral_frame(clip):
    """Every frame smiles (AU12 >= 0.3, no neutral frame): absolute AU12 follows the truth,
    relative-to-first cannot (it calls the first frame's smile zero)."""
    z, lm = clip["z"].copy(), clip["landmarks"]
    model = load_face_model()
    g = rng(1, "fit3d-abs")
    k = au_index("AU12")
    z[:, k] = g.uniform(0.3, 1.0, T)
    rot = np.stack([euler_to_matrix(*a) for a in clip["angles"]])
    shapes = np.stack([model.shape(clip["beta"], zz) for zz in z])
    lm = project(shapes, rot, np.full(T, SCALE), np.tile([320.0, 240.0], (T, 1))) + g.normal(0.0, 0.3, lm.shape)
    fit = fit_clip(lm, reference="absolute", smooth=0.0)
    assert _corr(z[:, k], fit.z[:, k]) > 0.9
    assert fit.z[:, k].min() > 0.15  # measured 0.25: never called neutral
    assert _corr(z, fit.z) > 0.8  # measured 0.88
    rel = fit_clip(lm, reference=0, smooth=0.0)
    assert rel.z[0, k] == 0.0


def test_outlier_landmarks_are_downweighted(clip, relative_fit):
    lm = clip["landmarks"].copy()
    lm[5, [48, 30, 8]] += np.array([0.3, -0.25]) * SCALE  # three landmarks 0.4 IOD off
    dirty = fit_clip(lm, reference=0, smooth=0.0)
    import miex.au.fit3d as fit3d

    old = fit3d.HUBER
    try:
        fit3d.HUBER = 100.0  # plain least squares
        plain = fit_clip(lm, reference=0, smooth=0.0)
    finally:
        fit3d.HUBER = old
    robust_err = np.abs(dirty.z[5] - relative_fit.z[5]).max()
    plain_err = np.abs(plain.z[5] - relative_fit.z[5]).max()
    assert robust_err < 0.5 * plain_err, (robust_err, plain_err)  # measured 0.18 vs 0.54
    np.testing.assert_allclose(np.delete(dirty.z, 5, 0), np.delete(relative_fit.z, 5, 0), atol=0.02)
    assert dirty.confidence[5] < relative_fit.confidence[5]


def test_a_frame_that_is_not_a_face_fails(clip):
    lm = clip["landmarks"].copy()
    lm[7] = rng(2, "garbage").permutation(lm[7])
    fit = fit_clip(lm, reference=0, smooth=0.0)
    assert not fit.success[7] and fit.confidence[7] < 0.01
    assert fit.success.sum() == T - 1
    assert fit.confidence[fit.success].min() > 0.9  # clean frames (measured 0.98)


def test_temporal_smoothing_reduces_jitter():
    """A slow AU12 ramp seen through 1 px landmark noise: the temporal prior removes frame-to-
    frame jitter without flattening the ramp."""
    model = load_face_model()
    g = rng(3, "smooth")
    n = 30
    z = np.zeros((n, N_AUS))
    z[:, au_index("AU12")] = np.linspace(0.0, 0.8, n)
    rot = np.stack([euler_to_matrix(0.0, 10.0, 0.0)] * n)
    lm = project(np.stack([model.shape(None, zz) for zz in z]), rot, np.full(n, SCALE), np.tile([320.0, 240.0], (n, 1)))
    lm = lm + g.normal(0.0, 1.0, lm.shape)
    rough = fit_clip(lm, reference=0, smooth=0.0).z
    smooth = fit_clip(lm, reference=0).z
    jitter = lambda a: float(np.abs(np.diff(a, 2, axis=0)).mean())  # noqa: E731
    assert jitter(smooth) < 0.8 * jitter(rough), (jitter(smooth), jitter(rough))  # measured 0.66
    k = au_index("AU12")
    assert _corr(z[:, k], smooth[:, k]) > 0.95
    assert smooth[-5:, k].mean() > 0.4


def test_bad_input_raises(clip):
    with pytest.raises(MiexError, match="landmarks"):
        fit_clip(clip["landmarks"][:, :60])
    with pytest.raises(MiexError, match="reference"):
        fit_clip(clip["landmarks"], reference=T)


@pytest.fixture(scope="module")
def turning_clip(tmp_path_factory, astronaut_path):
    """16 frames (640x480) of the real astronaut photo with the head turning (yaw 25 sin) and
    tilting (roll 10 sin), a smile (AU12 0.8) in the first half and raised brows (AU1, AU2 0.7)
    in the second: rendered by the warp, read back through dlib (miex.au.posed)."""
    import cv2

    from miex.au.posed import prepare_posed, render_posed
    from miex.faces import FaceDetector, detect_face
    from miex.generators import create_generator

    n = 16
    t = np.arange(n)
    z = np.zeros((n, N_AUS))
    z[:, au_index("AU12")] = 0.8 * np.clip(np.sin(np.pi * (t - 1) / 6), 0, None) * (t <= 7)
    brows = 0.7 * np.clip(np.sin(np.pi * (t - 8) / 6), 0, None) * (t >= 8)
    z[:, au_index("AU01")] = z[:, au_index("AU02")] = brows
    yaw, roll = 25.0 * np.sin(2 * np.pi * t / n), 10.0 * np.sin(4 * np.pi * t / n + 0.5)
    det = FaceDetector()
    gen = create_generator("warp")
    pf = prepare_posed(detect_face(astronaut_path, size=352, detector=det), gen)
    folder = tmp_path_factory.mktemp("turning")
    for i in range(n):
        frame = render_posed(pf, gen, z[i], yaw[i], roll[i])
        cv2.imwrite(str(folder / f"img{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder, z, det


def test_turning_head_real_face(turning_clip):
    from miex.au.estimate import estimate_clip
    from miex.au.space import AU_NAMES

    folder, z, det = turning_clip
    k12 = au_index("AU12")
    brow_true = z[:, :2].mean(1)
    other = [a for a in AU_NAMES if a not in ("AU01", "AU02", "AU06", "AU12", "AU25")]
    found = {}
    for name, kw in (("flow", {}), ("abs", {"reference": "absolute"}), ("2d", {"method": "2d"})):
        df = estimate_clip(folder, detector=det, **kw)
        assert df["frame"].tolist() == list(range(len(z)))
        if name != "2d":
            assert df["success"].all() and df["confidence"].min() > 0.8, df["confidence"].tolist()
        else:  # its residual flags the turned frames (measured: 6 of 16 fail, confidence 0.13-0.34)
            assert 0 < df["success"].sum() < len(z) - 2
        found[name] = (_corr(z[:, k12], df["AU12"].to_numpy()), _corr(brow_true, df[["AU01", "AU02"]].to_numpy().mean(1)),
                       float(df[other].to_numpy().max()))
    # relative to the first frame with dense flow: AU12 and the brows follow frame by frame and no
    # other AU takes the head motion (measured on 48 frames: r 0.99 / 1.00, other AUs <= 0.25)
    r12, rb, mx = found["flow"]
    assert r12 > 0.9 and rb > 0.9 and mx < 0.5, found
    # absolute (no neutral frame): AU12 still follows the smile (measured 0.93 on 48 frames)
    assert found["abs"][0] > 0.7, found
    # the 2D method reads the head turn as AUs (measured r 0.26 / 0.38, AU4 up to 0.95)
    assert found["2d"][0] < r12 - 0.3 and found["2d"][2] > mx, found


def test_absolute_smile_on_real_photos():
    """Unrendered real photos: the astronaut smiles broadly with parted lips, Grace Hopper does
    not smile and keeps her lips closed; the absolute fit (no neutral frame) tells them apart
    (measured AU12 0.63 / 0.55 mirrored vs 0.00, AU25 0.55 / 0.61 vs 0.00)."""
    from miex.au.estimate import estimate_landmarks, precise_landmarks
    from miex.faces import FaceDetector, builtin_face_paths, load_image, locate_face

    det = FaceDetector()
    found = {}
    for path in builtin_face_paths():
        rgb = load_image(path)
        for mirror in (False, True):
            img = np.ascontiguousarray(rgb[:, ::-1]) if mirror else rgb
            box, _, _ = locate_face(img, det)
            est = estimate_landmarks(precise_landmarks(img, box, det)[None], method="3d", reference="absolute")
            found[(path.stem, mirror)] = est
    if {"astronaut", "grace_hopper"} - {name for name, _ in found}:
        pytest.skip("needs both builtin photos")
    k12, k25 = au_index("AU12"), au_index("AU25")
    for mirror in (False, True):
        smile, plain = found[("astronaut", mirror)], found[("grace_hopper", mirror)]
        assert smile.z[0, k12] > 0.35 and smile.z[0, k25] > 0.3, smile.z[0].round(2)
        assert plain.z[0, k12] < 0.15 and plain.z[0, k25] < 0.15, plain.z[0].round(2)
        assert smile.confidence[0] > 0.85 and plain.confidence[0] > 0.85
