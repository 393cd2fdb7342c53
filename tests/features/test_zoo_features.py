"""The model zoo's features on real photos: TIM, flow sequences, landmark regions, LBP-TOP, Bi-WOOF."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from miex.errors import MiexError
from miex.features import bi_woof, bi_woof_features, flow_sequence, lbp_top, resample_clip, tim_weights
from miex.features.lbptop import N_BINS, plane_codes
from miex.features.regions import (
    crop_square,
    face_landmarks,
    flow_patches,
    region_box,
    region_clip,
    region_point,
    template_landmarks,
)


@pytest.fixture(scope="module")
def face_crop(astronaut_rgb) -> np.ndarray:
    """The astronaut's aligned face (128 px), a real face to move around."""
    from miex.faces import detect_face

    return detect_face(astronaut_rgb, size=128).image


def shifted_clip(image: np.ndarray, n: int, dx: float) -> np.ndarray:
    """``n`` frames of ``image`` translated by ``dx * t`` pixels to the right (border replicated)."""
    h, w = image.shape[:2]
    return np.stack([cv2.warpAffine(image, np.float32([[1, 0, dx * t], [0, 1, 0]]), (w, h),
                                    borderMode=cv2.BORDER_REPLICATE) for t in range(n)])


# --------------------------------------------------------------------------- TIM
def test_tim_returns_the_input_frames_at_their_positions(face_crop) -> None:
    clip = shifted_clip(face_crop, 6, 1.0).astype(np.float32)
    assert np.abs(resample_clip(clip, 6, "tim") - clip).max() < 1e-2
    longer = resample_clip(clip, 11, "tim")  # positions 1, 1.5, 2, ...: every other one is an input
    assert np.abs(longer[::2] - clip).max() < 1e-2
    ends = resample_clip(clip, 2, "tim")
    assert np.abs(ends[0] - clip[0]).max() < 1e-2 and np.abs(ends[1] - clip[-1]).max() < 1e-2
    assert np.allclose(tim_weights(6, 11).sum(axis=1), 1.0)


def test_tim_differs_from_linear_between_frames(face_crop) -> None:
    clip = shifted_clip(face_crop, 5, 2.0).astype(np.float32)
    tim, lin = resample_clip(clip, 8, "tim"), resample_clip(clip, 8, "linear")
    assert np.abs(tim[0] - lin[0]).max() < 1e-2 and np.abs(tim[-1] - lin[-1]).max() < 1e-2
    assert np.abs(tim[3] - lin[3]).mean() > 0.1
    with pytest.raises(MiexError, match="unknown temporal resampling"):
        resample_clip(clip, 4, "cubic")


# --------------------------------------------------------------------------- flow sequences
def test_flow_sequence_follows_the_motion(face_crop) -> None:
    clip = shifted_clip(face_crop, 5, 1.0)
    size = 32
    seq = flow_sequence(clip, 5, size, ("u", "v", "gray"), method="farneback", ref="onset", resample="linear",
                        normalize="none")
    assert seq.shape == (3, 5, size, size)
    inner = (slice(8, 24), slice(8, 24))
    per_pixel = size / clip.shape[2]  # flow in output pixels
    for t in range(5):
        assert abs(np.median(seq[0, t][inner]) - t * per_pixel) < 0.08
        assert abs(np.median(seq[1, t][inner])) < 0.05
    step = flow_sequence(clip, 5, size, ("u",), method="farneback", ref="previous", resample="linear",
                         normalize="none")
    assert np.abs(step[0, 0]).max() == 0.0  # the reference frame has no flow
    for t in range(1, 5):
        assert abs(np.median(step[0, t][inner]) - per_pixel) < 0.08
    scaled = flow_sequence(clip, 5, size, ("u", "gray"), method="farneback")
    assert scaled.min() >= 0.0 and scaled.max() <= 1.0 and scaled[0].max() == 1.0
    with pytest.raises(MiexError, match="unknown flow-sequence channel"):
        flow_sequence(clip, 5, size, ("depth",))


# --------------------------------------------------------------------------- regions
def test_landmark_regions_on_a_real_face(astronaut_rgb) -> None:
    marks, found = face_landmarks(astronaut_rgb)
    assert found and marks.shape == (68, 2)
    l_eye, r_eye = region_point(marks, "l_eye"), region_point(marks, "r_eye")
    l_lips, r_lips = region_point(marks, "l_lips"), region_point(marks, "r_lips")
    assert l_eye[0] < r_eye[0] and l_lips[0] < r_lips[0]
    assert max(l_eye[1], r_eye[1]) < region_point(marks, "nose")[1] < min(l_lips[1], r_lips[1])
    eyes, mouth = region_box(marks, "eyes"), region_box(marks, "mouth")
    assert eyes[1] < mouth[1] and eyes[2] > mouth[2] > 0
    clip = region_clip(np.stack([astronaut_rgb] * 3), marks, ("eyes", "mouth"), 24)
    assert clip.shape == (2, 3, 24, 24) and 0.0 <= clip.min() and clip.max() <= 1.0


def test_no_face_falls_back_to_the_aligned_crop_template(face_crop) -> None:
    noise = (np.random.default_rng(0).random((128, 128, 3)) * 255).astype(np.uint8)
    marks, found = face_landmarks(noise)
    assert not found
    assert np.allclose(marks, template_landmarks(128, 128))
    # on an aligned crop the template's eyes are where dlib finds the real ones
    real, ok = face_landmarks(face_crop)
    assert ok
    for name in ("l_eye", "r_eye"):
        assert np.linalg.norm(region_point(real, name) - region_point(marks, name)) < 6.0


def test_crops_are_centred_where_asked(astronaut_rgb) -> None:
    crop = crop_square(astronaut_rgb, 200.0, 120.0, 32.0, 32)
    assert np.array_equal(crop[16, 16], astronaut_rgb[120, 200])
    maps = np.broadcast_to(np.arange(28, dtype=np.float32), (3, 28, 28)).copy()  # value = column
    patches = flow_patches(maps, np.array([[10.0, 10.0], [1.0, 27.0]]), 14)
    assert patches.shape == (2, 3, 14, 14)
    assert patches[0, 0, 0, 0] == 3 and patches[0, 0, 0, -1] == 16  # columns 3..16 around x = 10
    assert patches[1, 0, 0, 0] == 0  # moved inside the map, as HTNet clamps its centres


# --------------------------------------------------------------------------- LBP-TOP
def test_lbp_xy_codes_match_scikit_image(face_crop) -> None:
    from skimage.feature import local_binary_pattern

    gray = cv2.cvtColor(face_crop, cv2.COLOR_RGB2GRAY)
    mine = plane_codes(np.stack([gray] * 3).astype(np.float64), "xy", (1.0, 1.0, 1.0))[0]
    ref = local_binary_pattern(gray, 8, 1, "nri_uniform").astype(int)[1:-1, 1:-1]
    # the same 59 patterns under another bin numbering: a one-to-one correspondence
    joint = np.zeros((N_BINS, N_BINS), int)
    np.add.at(joint, (mine.ravel(), ref.ravel()), 1)
    assert ((joint > 0).sum(axis=1) <= 1).all() and ((joint > 0).sum(axis=0) <= 1).all()
    assert (mine == N_BINS - 1).sum() == (ref == N_BINS - 1).sum()


def test_lbp_top_sees_motion_in_the_time_planes(face_crop) -> None:
    gray = cv2.cvtColor(face_crop, cv2.COLOR_RGB2GRAY).astype(np.float64)
    still = lbp_top(np.stack([gray] * 7), blocks=(1, 1), radii=(1, 1, 1))
    moving = lbp_top(shifted_clip(gray, 7, 1.0), blocks=(1, 1), radii=(1, 1, 1))
    assert still.shape == (3 * N_BINS,)
    for f in (still, moving):
        assert np.allclose(f.reshape(3, N_BINS).sum(axis=1), 1.0)
    xy, xt = (slice(0, N_BINS), slice(N_BINS, 2 * N_BINS))
    assert np.abs(still[xt] - moving[xt]).sum() > 5 * np.abs(still[xy] - moving[xy]).sum()
    assert lbp_top(np.stack([gray] * 10)).shape == (5 * 5 * 3 * N_BINS,)
    with pytest.raises(MiexError, match="too small"):
        lbp_top(np.stack([gray] * 3), radii=(1, 1, 2))


# --------------------------------------------------------------------------- Bi-WOOF
def test_bi_woof_weights_orientation_by_magnitude_and_blocks_by_strain() -> None:
    flow = np.zeros((100, 100, 2), np.float32)
    x = np.arange(40, 60, dtype=np.float32)
    flow[40:60, 40:60, 0] = 0.1 * (x - 49.5)[None, :]  # a horizontal stretch in the centre block
    f = bi_woof(flow, blocks=5, bins=8).reshape(25, 8)
    assert np.count_nonzero(f.sum(axis=1)) == 1 and f[12].sum() > 0
    assert set(np.nonzero(f[12])[0]) == {0, 4}  # rightwards and leftwards
    # the normalised histogram is weighted by the block's mean strain: the stretch rate 0.1 inside,
    # more where the stretch meets the still face around it
    from miex.features import optical_strain

    strain = optical_strain(flow)
    assert np.median(strain[42:58, 42:58]) == pytest.approx(0.1, rel=1e-3)
    assert f[12].sum() == pytest.approx(float(strain[40:60, 40:60].mean()), rel=1e-4)


def test_bi_woof_finds_the_moving_face_region(face_crop) -> None:
    from miex.au.space import z_from_mapping
    from miex.faces import detect_face
    from miex.generators import create_generator

    gen = create_generator("warp")
    face = detect_face(face_crop, size=128)
    prepared = gen.prepare(face)
    onset = gen.render(prepared, np.zeros(17))
    rows = {}
    for name, aus in (("smile", {"AU12": 1.0}), ("brows", {"AU01": 1.0, "AU02": 1.0})):
        apex = gen.render(prepared, z_from_mapping(aus))
        f = bi_woof_features(onset, apex, blocks=4, bins=8, method="farneback").reshape(4, 4, 8)
        rows[name] = int(np.argmax(f.sum(axis=(1, 2))))  # the block row with the most weighted motion
    assert rows["smile"] > rows["brows"]
