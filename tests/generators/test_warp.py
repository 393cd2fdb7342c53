"""The training-free warp generator on real photos (astronaut, its mirror, Grace Hopper)."""

from __future__ import annotations

import numpy as np
import pytest

from miex.au.space import AU_NAMES, N_AUS, au_index
from miex.errors import InputError, MiexError
from miex.generators import Generator, create_generator, list_generators
from miex.seeding import rng


def _z(**aus: float) -> np.ndarray:
    z = np.zeros(N_AUS)
    for name, v in aus.items():
        z[au_index(name)] = v
    return z


def _random_z(gen: np.random.Generator, lo: float, hi: float, p: float = 0.3) -> np.ndarray:
    z = np.where(gen.random(N_AUS) < p, gen.uniform(lo, hi, N_AUS), 0.0)
    if not z.any():
        z[gen.integers(N_AUS)] = gen.uniform(lo, hi)
    return z


def _map_det(m: np.ndarray) -> np.ndarray:
    """Jacobian determinant of a backward map (H, W, 2) by central differences."""
    gxx = np.gradient(m[..., 0], axis=1)
    gxy = np.gradient(m[..., 0], axis=0)
    gyx = np.gradient(m[..., 1], axis=1)
    gyy = np.gradient(m[..., 1], axis=0)
    return gxx * gyy - gxy * gyx


def _check_map(m: np.ndarray, shape: tuple[int, int]) -> float:
    h, w = shape
    assert np.all(np.isfinite(m))
    assert m[..., 0].min() >= 0 and m[..., 0].max() <= w - 1
    assert m[..., 1].min() >= 0 and m[..., 1].max() <= h - 1
    return float(_map_det(m).min())


# ----------------------------------------------------------------------------- interface


def test_registry():
    assert "warp" in list_generators()
    gen = create_generator("warp")
    assert isinstance(gen, Generator) and gen.name == "warp"
    with pytest.raises(MiexError, match="unknown generator"):
        create_generator("no-such-backend")


def test_output_shape_and_render_many(generator, faces, prepared):
    face, prep = faces["astronaut"], prepared["astronaut"]
    zs = np.stack([_z(), _z(AU12=0.3), _z(AU04=0.2, AU45=0.3)])
    frames = generator.render_many(prep, zs)
    assert len(frames) == 3
    for f in frames:
        assert f.shape == face.image.shape and f.dtype == np.uint8
    with pytest.raises(MiexError):
        generator.render(prep, np.full(N_AUS, 1.5))  # outside [0, 1]
    with pytest.raises(MiexError):
        generator.render(prep, np.zeros(5))


def test_warm_up_leaves_frames_unchanged(generator, faces):
    warmed = create_generator("warp")
    for size in (96, 128, 256):
        warmed.warm_up(size)
    gen = rng(0, "warm-up")
    for face in faces.values():
        zs = np.stack([_random_z(gen, 0.1, 0.3) for _ in range(3)])
        for a, b in zip(warmed.render_many(warmed.prepare(face), zs), generator.render_many(generator.prepare(face), zs)):
            assert a.tobytes() == b.tobytes()


def test_zero_is_exact(generator, faces, prepared):
    for name, prep in prepared.items():
        out = generator.render(prep, np.zeros(N_AUS))
        np.testing.assert_array_equal(out, faces[name].image)
        assert not generator.forward_field(prep, np.zeros(N_AUS)).any()
        assert not np.any(generator.inverse_map(prep, np.zeros(N_AUS)) - np.stack([prep.pixel_x, prep.pixel_y], -1))


def test_field_is_linear_in_z(generator, prepared):
    prep = prepared["grace"]
    gen = rng(0, "linearity")
    for _ in range(5):
        a, b = _random_z(gen, 0.0, 1.0), _random_z(gen, 0.0, 1.0)
        fa = generator.forward_field(prep, a, guard=False)
        fb = generator.forward_field(prep, b, guard=False)
        fab = generator.forward_field(prep, a + b, guard=False)
        np.testing.assert_allclose(fab, fa + fb, atol=1e-4)
        np.testing.assert_allclose(generator.forward_field(prep, 0.37 * a, guard=False), 0.37 * fa, atol=1e-4)
        dense = generator.dense_forward_field(prep, a)
        np.testing.assert_allclose(generator.dense_forward_field(prep, 2 * a), 2 * dense, atol=1e-4)
    # at MiE intensities the guard never acts and the inverse is the forward field to first order
    z = _z(AU12=0.3, AU06=0.2)
    np.testing.assert_array_equal(generator.forward_field(prep, z), generator.forward_field(prep, z, guard=False))


def test_field_at_landmarks_matches_the_basis(generator, faces, prepared):
    """The dense field reproduces the basis rows at the face's own landmarks."""
    import cv2

    from miex.au.estimate import basis_in_frame

    face, prep = faces["grace"], prepared["grace"]
    rows = basis_in_frame(face.landmarks)
    pts = face.landmarks.astype(np.float32)
    errs = []
    for k in range(N_AUS):
        f = generator.dense_forward_field(prep, np.eye(N_AUS)[k])
        got = np.stack([cv2.remap(np.ascontiguousarray(f[..., c]), pts[:, :1], pts[:, 1:], cv2.INTER_LINEAR)[:, 0] for c in (0, 1)], 1)
        big = np.hypot(*rows[k].T) > 0.3 * np.hypot(*rows[k].T).max()
        big[60:68] = False  # a closed mouth puts 62 and 66 on one pixel: the tear is ambiguous there
        errs.append(np.hypot(*(got - rows[k])[big].T).mean() / np.hypot(*rows[k][big].T).mean())
    # measured (grid 64, Grace): median 0.06, worst AU45 0.19 (the eye is ~5 px tall)
    assert max(errs) < 0.3, dict(zip(AU_NAMES, np.round(errs, 2)))
    assert np.median(errs) < 0.1


def _piecewise_linear(d: np.ndarray, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The node field d (2, h, w) at node-unit points, interpolated on the triangles abc/ace."""
    h, w = d.shape[1:]
    cx = np.clip(np.floor(px).astype(int), 0, w - 2)
    cy = np.clip(np.floor(py).astype(int), 0, h - 2)
    u, v = px - cx, py - cy
    upper = u >= v
    a, b, c, e = d[:, cy, cx], d[:, cy, cx + 1], d[:, cy + 1, cx + 1], d[:, cy + 1, cx]
    val = np.where(upper, a + u * (b - a) + v * (c - b), a + u * (c - e) + v * (e - a))
    return val[0], val[1]


@pytest.mark.parametrize("lo, hi", [(0.1, 0.3), (0.5, 1.0)])
def test_node_inverse_is_exact(generator, prepared, lo, hi):
    """The compiled triangle walk inverts the piecewise-linear forward warp at every node
    (p + D(p) = q to 1e-3 px), and agrees with the exhaustive triangle scan."""
    gen = rng(0, "inverse", int(lo * 10))
    for prep in prepared.values():
        sx, sy = prep.cell
        for _ in range(4):
            d = generator.forward_field(prep, _random_z(gen, lo, hi))
            ex, ey = generator._inverse(d, prep)
            scan_x, scan_y = generator._invert(d, prep)
            np.testing.assert_allclose(ex, scan_x, atol=1e-3)
            np.testing.assert_allclose(ey, scan_y, atol=1e-3)
            qx, qy = prep.node_x, prep.node_y
            px, py = qx - ex / sx, qy - ey / sy
            fx, fy = _piecewise_linear(d / np.array([sx, sy], np.float32)[:, None, None], px, py)
            assert np.abs(px + fx - qx).max() * sx < 1e-3
            assert np.abs(py + fy - qy).max() * sy < 1e-3


# ----------------------------------------------------------------------------- robustness


def test_background_is_untouched_and_no_fold_overs(generator, faces, prepared, figures):
    gen = rng(0, "folds")
    worst = 1.0
    for name, prep in prepared.items():
        img = faces[name].image
        for _ in range(8):
            z = _random_z(gen, 0.1, 0.3)
            m = generator.inverse_map(prep, z)
            worst = min(worst, _check_map(m, img.shape[:2]))
            out = generator.render(prep, z)
            still = np.all(m == np.stack([prep.pixel_x, prep.pixel_y], -1), axis=-1)
            assert still.mean() > 0.1  # corners, hair, background (measured 0.16-0.4)
            np.testing.assert_array_equal(out[still], img[still])
    figures(f"fold-over check, 24 random MiE vectors (0.1-0.3) on 3 faces: min Jacobian det of the map {worst:.2f}")
    assert worst > 0.3


@pytest.mark.parametrize("value", [1.0, 5.0])
def test_large_z_no_nan_no_holes(generator, faces, prepared, figures, value):
    for name, prep in prepared.items():
        z = np.full(N_AUS, value)
        m = generator.inverse_map(prep, z)
        det = _check_map(m, faces[name].image.shape[:2])
        assert det > 0.0, (name, det)
        out = generator.render_unbounded(prep, z)
        assert out.shape == faces[name].image.shape and out.dtype == np.uint8
        if name == "astronaut":
            figures(f"all 17 AUs at {value}: min Jacobian det of the map {det:.2f} (astronaut)")
    for k in range(N_AUS):  # every single AU at full intensity
        m = generator.inverse_map(prepared["grace"], np.eye(N_AUS)[k])
        assert _check_map(m, faces["grace"].image.shape[:2]) > 0.0, AU_NAMES[k]


def _tight_crop(rgb: np.ndarray, landmarks: np.ndarray, width: int, height: int, face_frac: float) -> np.ndarray:
    """A pre-aligned crop where the jaw spans ``face_frac`` of the width (CelebA / 112 px style)."""
    import cv2

    from miex.au.basis import load_basis, similarity

    t = load_basis().template
    scale = face_frac * width / (t[16, 0] - t[0, 0])
    dst = t * scale + np.array([width / 2.0, height * 0.42])
    m = similarity(landmarks, dst)
    return cv2.warpAffine(rgb, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("size", [(178, 218), (112, 112)])
def test_tight_prealigned_crops(generator, astronaut_rgb, detector, figures, size):
    from miex.faces import FaceDetector, locate_face

    w, h = size
    _, pts, _ = locate_face(astronaut_rgb, detector)
    crop = _tight_crop(astronaut_rgb, pts, w, h, 0.95 if w == 112 else 0.8)
    box, lms, _ = locate_face(crop, FaceDetector(upsample=2))

    class Crop:  # a pre-aligned crop used as it is (no re-alignment)
        image = crop
        landmarks = lms

    prep = generator.prepare(Crop)
    gen = rng(1, "tight", w)
    dets = []
    for z in [_random_z(gen, 0.1, 0.3) for _ in range(5)] + [np.eye(N_AUS)[au_index(a)] for a in ("AU26", "AU17", "AU12")]:
        out = generator.render(prep, z)
        assert out.shape == crop.shape
        m = generator.inverse_map(prep, z)
        dets.append(_check_map(m, (h, w)))
        # the anchored border: the outermost rows and columns never move
        edge = np.zeros((h, w), bool)
        edge[0], edge[-1], edge[:, 0], edge[:, -1] = True, True, True, True
        np.testing.assert_array_equal(out[edge], crop[edge])
    figures(f"tight {w}x{h} crop (face fills the frame): min Jacobian det {min(dets):.2f} over MiE vectors and AU26/17/12 at 1.0")
    assert min(dets) > 0.05


def test_low_resolution_face(generator, astronaut_rgb, detector, figures):
    """A face ~30 px wide in the source, upscaled by the crop, renders cleanly."""
    import cv2

    from miex.faces import FaceDetector, detect_face, locate_face

    _, pts, _ = locate_face(astronaut_rgb, detector)
    factor = 30.0 / (pts[16, 0] - pts[0, 0])
    small = cv2.resize(astronaut_rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    face = detect_face(small, size=128, detector=FaceDetector(upsample=3))
    prep = generator.prepare(face)
    z = _z(AU12=0.3, AU06=0.2, AU01=0.2)
    out = generator.render(prep, z)
    det = _check_map(generator.inverse_map(prep, z), (128, 128))
    assert out.shape == (128, 128, 3) and det > 0.3
    assert np.abs(out.astype(int) - face.image.astype(int)).max() > 0  # something moved
    figures(f"low-res face ({small.shape[1]}x{small.shape[0]} source, face ~30 px): min det {det:.2f}")


def test_face_cut_by_border_and_no_face(generator, astronaut_rgb, detector):
    """Each gives a clear outcome: a rendered face or a one-line InputError, never a crash."""
    from miex.faces import detect_face

    cut = np.ascontiguousarray(astronaut_rgb[:, 150:])  # left part of the face cut off
    try:
        face = detect_face(cut, detector=detector)
    except InputError as exc:
        assert "face" in str(exc)
    else:
        out = generator.render(generator.prepare(face), _z(AU12=0.3))
        assert out.shape == face.image.shape
    blank = np.full((200, 200, 3), 127, np.uint8)
    with pytest.raises(InputError, match="no face found"):
        detect_face(blank, detector=detector)


# ----------------------------------------------------------------------------- re-detection


def _redetect(detector, image, box):
    from miex.au.estimate import precise_landmarks

    return precise_landmarks(image, box, detector)


def _face_frame(neutral_lms: np.ndarray, lms: np.ndarray) -> np.ndarray:
    """Displacement (68, 2) in IOD units of the template frame (x right, y down)."""
    from miex.au.basis import iod, load_basis, similarity
    from miex.au.estimate import align_to_neutral

    aligned = align_to_neutral(neutral_lms, lms)
    sim = similarity(neutral_lms, load_basis().template)
    return (aligned - neutral_lms) @ sim[:, :2].T * (1.0 / (iod(load_basis().template)))


def test_motion_directions(generator, faces, prepared, neutral, detector, figures):
    """Key AUs move the re-detected landmarks the right way (astronaut, mirror, Grace)."""
    checks = {}
    for name, prep in prepared.items():
        box, lm0 = neutral[name]

        def moved(au: str, value: float = 1.0) -> np.ndarray:
            return _face_frame(lm0, _redetect(detector, generator.render(prep, _z(**{au: value})), box))

        d = moved("AU12")
        checks.setdefault("AU12 corners up", []).append(-(d[48, 1] + d[54, 1]) / 2)
        checks.setdefault("AU12 corners out", []).append((d[54, 0] - d[48, 0]) / 2)
        d = moved("AU04")
        checks.setdefault("AU04 inner brows down", []).append((d[21, 1] + d[22, 1]) / 2)
        checks.setdefault("AU04 inner brows together", []).append((d[21, 0] - d[22, 0]) / 2)
        d = moved("AU26")
        checks.setdefault("AU26 chin down", []).append(d[8, 1])
        d = moved("AU45")
        lid = lambda v: (v[41, 1] + v[40, 1] - v[37, 1] - v[38, 1] + v[47, 1] + v[46, 1] - v[43, 1] - v[44, 1]) / 4
        checks.setdefault("AU45 eyelid gap closes", []).append(-lid(d))
        d = moved("AU01")
        checks.setdefault("AU01 inner brows up", []).append(-(d[21, 1] + d[22, 1]) / 2)
        d = moved("AU02")
        checks.setdefault("AU02 outer brows up", []).append(-(d[17, 1] + d[18, 1] + d[25, 1] + d[26, 1]) / 4)
    for what, values in checks.items():
        figures(f"direction {what}: {', '.join(f'{v:+.3f}' for v in values)} IOD (astronaut, mirror, grace; AU at 1.0)")
    for what, values in checks.items():
        if what.startswith("AU02"):
            # Grace Hopper's outer brows are hidden by her glasses frame, which the warp lifts
            # but dlib does not follow; the brows of the other two faces must go up.
            values = values[:2]
        assert min(values) > 0.005, (what, values)


def test_identity_is_preserved(generator, faces, prepared, neutral, detector, figures):
    """dlib 128-d embedding distance input vs output at MiE intensities (<= 0.3)."""
    gen = rng(0, "identity")
    dists = []
    for name, prep in prepared.items():
        img = faces[name].image
        ref = detector.embedding(img)
        for _ in range(4):
            z = _random_z(gen, 0.1, 0.3, p=0.4)
            out = generator.render(prep, z)
            dists.append(float(np.linalg.norm(detector.embedding(out) - ref)))
    med, mx = float(np.median(dists)), float(np.max(dists))
    figures(f"identity: dlib embedding distance input vs output, 12 MiE renders: median {med:.3f}, max {mx:.3f} (same person < 0.6)")
    # Noise floor measured on these crops: a half-pixel shift of the unchanged crop costs
    # 0.06-0.10, JPEG quality 90 0.06-0.09; one AU at 0.3 ~0.1, eight AUs at 0.3 ~0.25.
    # 0.35 (under 60 % of the same-person threshold) leaves room for the seeded vectors here
    # (measured max 0.27) while failing on any warp that distorts the face.
    assert med < 0.25
    assert mx < 0.35


def test_au_fidelity_by_redetection(generator, faces, prepared, neutral, detector, figures):
    """Render random z, re-detect with dlib, estimate z back: Pearson r per AU and overall."""
    from miex.au.estimate import estimate_z

    results = {}
    for lo, hi, n in ((0.1, 0.3, 40), (0.5, 1.0, 40)):
        gen = rng(0, "fidelity", int(lo * 10))
        target, found = [], []
        for name, prep in prepared.items():
            box, lm0 = neutral[name]
            for _ in range(n):
                z = _random_z(gen, lo, hi)
                out = generator.render(prep, z)
                target.append(z)
                found.append(estimate_z(lm0, _redetect(detector, out, box)))
        t, f = np.array(target), np.array(found)
        per_au = [float(np.corrcoef(t[:, k], f[:, k])[0, 1]) for k in range(N_AUS)]
        overall = float(np.corrcoef(t.ravel(), f.ravel())[0, 1])
        results[(lo, hi)] = (overall, per_au)
        figures(
            f"fidelity z in {lo}-{hi} ({len(t)} renders): overall r {overall:.2f}; per AU "
            + " ".join(f"{a[2:]}:{r:.2f}" for a, r in zip(AU_NAMES, per_au))
        )
    # measured: overall 0.52 (0.1-0.3) and 0.54 (0.5-1.0); with the warp's own field at the
    # landmarks instead of dlib the same estimator reaches ~0.8, so the rest is dlib's
    # response (its shape prior couples brows/lids/lips) and the 17-row basis' conditioning.
    low, high = results[(0.1, 0.3)][0], results[(0.5, 1.0)][0]
    assert low > 0.35 and high > 0.4
    # the large, well-tracked motions are recovered clearly (measured 0.75-0.86)
    for au in ("AU01", "AU09", "AU12", "AU25", "AU26"):
        assert results[(0.5, 1.0)][1][au_index(au)] > 0.55, au
        assert results[(0.1, 0.3)][1][au_index(au)] > 0.5, au
