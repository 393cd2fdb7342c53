"""Hard inputs: tight pre-aligned crops, low resolution, faces cut by the border, no face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from miex.errors import InputError
from miex.faces import FaceDetector, detect_face, outside_fraction, transform_points
from miex.faces.align import similarity_from_points
from miex.faces.detect import check_inside


def eyes(landmarks):
    pts = np.asarray(landmarks, dtype=float)
    return pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)


@pytest.fixture(scope="module")
def astronaut_src_landmarks(astronaut_face):
    m = astronaut_face.transform
    return (astronaut_face.landmarks - m[:, 2]) @ np.linalg.inv(m[:, :2]).T


def pre_aligned(rgb, src_landmarks, eye_l, eye_r, w, h):
    """Re-create a dataset's alignment: eye centres to fixed spots in a w x h crop."""
    m = similarity_from_points(eyes(src_landmarks), (np.array(eye_l), np.array(eye_r)))
    return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


TIGHT = {
    # CelebA img_align_celeba: 178 x 218, eyes near (69, 111) and (108, 111)
    "celeba_178x218": ((69.0, 111.0), (108.0, 111.0), 178, 218),
    # InsightFace/ArcFace 112 x 112 template: the face fills the frame, chin cut
    "arcface_112": ((38.29, 51.70), (73.53, 51.50), 112, 112),
}


@pytest.mark.parametrize("name", sorted(TIGHT))
def test_tight_pre_aligned_crops_detect(name, astronaut_rgb, astronaut_src_landmarks, detector):
    eye_l, eye_r, w, h = TIGHT[name]
    tight = pre_aligned(astronaut_rgb, astronaut_src_landmarks, eye_l, eye_r, w, h)
    face = detect_face(tight, detector=detector)  # upsample 1 (+ padded retry when needed)
    assert face.image.shape == (128, 128, 3) and face.n_faces == 1
    # the detected eyes are where the dataset put them
    back = np.linalg.inv(np.vstack([face.transform, [0, 0, 1]]))[:2]
    for got, want in zip(eyes(transform_points(back, face.landmarks)), (eye_l, eye_r)):
        assert np.linalg.norm(got - np.array(want)) < 3.0, name
    # the 112 crop is tighter than ours: the missing rim of our crop is replicated border
    frac = outside_fraction(face.transform, tight.shape, 128)
    print(f"{name}: {frac:.1%} of the 128 crop lies outside the source")
    assert (frac > 0.02) if name.startswith("arcface") else (frac < 0.02)
    redetected = detector.detect(face.image)
    assert redetected, f"{name}: aligned crop not re-detected"


@pytest.mark.parametrize("width,upsample,found", [(30, 2, True), (30, 1, True), (20, 1, False), (20, 2, True)])
def test_low_resolution_faces(astronaut_rgb, width, upsample, found):
    """A face ~30 px wide is found at upsample 1 and 2; ~20 px only with upsample 2.

    The crop is then an upscaled (blurry) but correctly placed face.
    """
    s = width / 91.0  # the astronaut's face box is 91 px wide
    small = cv2.resize(astronaut_rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    det = FaceDetector(upsample=upsample)
    if not found:
        with pytest.raises(InputError, match="no face found"):
            detect_face(small, detector=det)
        return
    face = detect_face(small, detector=det)
    assert face.image.shape == (128, 128, 3)
    assert np.linalg.det(face.transform[:, :2]) > 4  # upscaled > 2x per axis
    pts = FaceDetector(1).landmarks(face.image, FaceDetector(1).detect(face.image)[0])
    want_l, want_r = np.array([45.7, 49.7]), np.array([82.3, 49.7])
    got_l, got_r = eyes(pts)
    assert np.linalg.norm(got_l - want_l) < 5 and np.linalg.norm(got_r - want_r) < 5


def test_face_at_the_border_is_cropped_with_replicated_pixels(astronaut_rgb, detector):
    cut = np.ascontiguousarray(astronaut_rgb[:, 200:])  # the left ~quarter of the face is gone
    face = detect_face(cut, detector=detector)
    frac = outside_fraction(face.transform, cut.shape, 128)
    assert frac > 0.05
    # the part of the crop outside the photo repeats its edge pixels instead of black
    m = np.vstack([face.transform, [0, 0, 1]])
    ys, xs = np.mgrid[0:128, 0:128]
    src = transform_points(np.linalg.inv(m)[:2], np.stack([xs.ravel(), ys.ravel()], 1)).reshape(128, 128, 2)
    outside = src[..., 0] < -1
    assert outside.any()
    assert face.image[outside].mean() > 40
    # with a strict tolerance the same photo is rejected with a clear message
    with pytest.raises(InputError, match=r"face cut by the image border: \d+ of 68 landmarks outside"):
        detect_face(cut, detector=detector, max_outside=0.02)


def test_eyes_outside_the_image_are_rejected(astronaut_src_landmarks):
    shifted = astronaut_src_landmarks - np.array([210.0, 0.0])  # left eye off the image
    with pytest.raises(InputError, match="face cut by the image border"):
        check_inside(shifted, (512, 512, 3), "x.jpg")
    check_inside(astronaut_src_landmarks, (512, 512, 3), "x.jpg")  # fine


def test_half_face_gives_a_clear_outcome(astronaut_rgb, detector):
    half = np.ascontiguousarray(astronaut_rgb[:, 225:])  # cut through the nose
    with pytest.raises(InputError, match="no face found|face cut by the image border"):
        detect_face(half, detector=detector)
