from __future__ import annotations

import cv2
import numpy as np
import pytest

from miex.errors import MiexError
from miex.faces import align_face, apply_alignment, canonical_eyes, detect_face, load_image


def eyes(landmarks):
    pts = np.asarray(landmarks, dtype=float)
    return pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)


def documented_eyes(size: float, margin: float):
    """The geometry as written in miex.faces.align: face square F = S(1-2m) spans 2.8 IOD,
    eye midpoint centred, 0.36 F below the square's top."""
    face = size * (1 - 2 * margin)
    iod = face / 2.8
    y = margin * size + 0.36 * face
    return np.array([size / 2 - iod / 2, y]), np.array([size / 2 + iod / 2, y])


def test_default_geometry_numbers():
    left, right = canonical_eyes()
    np.testing.assert_allclose(left, [0.3571 * 128, 0.388 * 128], atol=0.02)
    np.testing.assert_allclose(right, [0.6429 * 128, 0.388 * 128], atol=0.02)


@pytest.mark.parametrize("which", ["astronaut_face", "grace_face"])
def test_eye_centres_land_where_documented(request, which):
    face = request.getfixturevalue(which)
    for got, want in zip(eyes(face.landmarks), documented_eyes(128, 0.1)):
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("which", ["astronaut_face", "grace_face"])
def test_crop_really_contains_the_aligned_face(request, which, detector):
    """Independent check: re-detect on the crop; eyes within 2 px of the documented spots
    and the whole face (brows to chin) inside the crop."""
    face = request.getfixturevalue(which)
    box = detector.detect(face.image)[0]
    pts = detector.landmarks(face.image, box)
    for got, want in zip(eyes(pts), documented_eyes(128, 0.1)):
        assert np.linalg.norm(got - want) < 2.5
    assert pts.min() > 4 and pts.max() < 124
    assert pts[17:27, 1].min() > 0.15 * 128 and pts[8, 1] < 0.95 * 128


def test_transform_is_a_similarity(astronaut_face, grace_face):
    for face in (astronaut_face, grace_face):
        m = face.transform
        assert m.shape == (2, 3) and m.dtype == np.float64
        a, b = m[0, 0], m[1, 0]
        np.testing.assert_allclose(m[:, :2], [[a, -b], [b, a]], atol=1e-12)
        assert np.linalg.det(m[:, :2]) > 0  # no reflection
        # maps the source landmarks (re-derived from the box frame) onto the crop landmarks
        src = (face.landmarks - m[:, 2]) @ np.linalg.inv(m[:, :2]).T
        np.testing.assert_allclose(src @ m[:, :2].T + m[:, 2], face.landmarks, atol=1e-9)


def test_rotated_face_comes_out_level(astronaut_rgb, detector):
    centre = (225.0, 120.0)
    rot = cv2.warpAffine(astronaut_rgb, cv2.getRotationMatrix2D(centre, 20, 1.0), (512, 512), borderMode=cv2.BORDER_REFLECT)
    face = detect_face(rot, detector=detector)
    pts = detector.landmarks(face.image, detector.detect(face.image)[0])
    left, right = eyes(pts)
    angle = np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0]))
    assert abs(angle) < 2.0
    # the transform undid the ~20 degree rotation
    m = face.transform
    assert abs(abs(np.degrees(np.arctan2(m[1, 0], m[0, 0]))) - 20) < 4


def test_apply_alignment_reproduces_the_crop(astronaut_rgb, grace_path, astronaut_face, grace_face):
    np.testing.assert_array_equal(apply_alignment(astronaut_rgb, astronaut_face.transform, 128), astronaut_face.image)
    np.testing.assert_array_equal(apply_alignment(load_image(grace_path), grace_face.transform, 128), grace_face.image)
    # another "frame" of the same clip: same geometry, its own pixels
    darker = (astronaut_rgb // 2).astype(np.uint8)
    crop = apply_alignment(darker, astronaut_face.transform, 128)
    assert np.abs(crop.astype(int) - astronaut_face.image // 2).max() <= 2


def test_size_and_margin(astronaut_rgb, astronaut_face):
    src_pts = (astronaut_face.landmarks - astronaut_face.transform[:, 2]) @ np.linalg.inv(astronaut_face.transform[:, :2]).T
    for size, margin in ((256, 0.1), (64, 0.0), (128, 0.25)):
        face = align_face(astronaut_rgb, src_pts, size=size, margin=margin, source="x.png")
        assert face.image.shape == (size, size, 3) and face.source == "x.png"
        for got, want in zip(eyes(face.landmarks), documented_eyes(size, margin)):
            np.testing.assert_allclose(got, want, atol=1e-6)
        l, t, r, b = face.box  # defaults to the landmarks' bounding box in source coords
        assert l <= src_pts[:, 0].min() and r >= src_pts[:, 0].max()
    with pytest.raises(MiexError, match="margin"):
        align_face(astronaut_rgb, src_pts, margin=0.6)
    with pytest.raises(MiexError, match="landmarks"):
        align_face(astronaut_rgb, src_pts[:5])


def test_downscaling_is_antialiased(grace_path, grace_face):
    """Grace's face is shrunk ~2.2x: the crop must match an area-averaged reference, not a
    point-sampled (aliased) one."""
    rgb = load_image(grace_path)
    m = grace_face.transform
    area = apply_alignment(rgb, m, 128).astype(float)
    naive = cv2.warpAffine(rgb, m, (128, 128), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE).astype(float)
    hf = lambda im: np.abs(np.diff(im, axis=1)).mean()  # noqa: E731
    assert hf(area) < 0.8 * hf(naive)
