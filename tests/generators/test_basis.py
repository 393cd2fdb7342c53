"""The calibrated AU basis (miex.au.basis): package data, row choices and calibration."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np

from miex.au.basis import LIP_PAIRS, RAW_JAWOPEN_LIP_GAP, ROWS, SCALES, iod, load_basis
from miex.au.space import AU_NAMES, au_index


def _raw_rows(name: str, n: int) -> dict[str, np.ndarray]:
    path = resources.files("miex").joinpath("data", "au_basis", name)
    out: dict[str, np.ndarray] = {}
    key = "landmark" if "68" in name else "point"
    with path.open() as fh:
        for r in csv.DictReader(fh):
            out.setdefault(r["au"], np.zeros((n, 2)))[int(r[key])] = (float(r["dx"]), float(r["dy"]))
    return out


def test_shapes_and_landmark_consistency():
    b = load_basis()
    assert b.template.shape == (68, 2) and b.dense_points.shape == (520, 2)
    assert b.landmarks.shape == (17, 68, 2) and b.dense.shape == (17, 520, 2)
    np.testing.assert_array_equal(b.dense_points[:68], b.template)
    np.testing.assert_array_equal(b.dense[:, :68], b.landmarks)
    assert abs(iod(b.template) - 1.0) < 1e-3  # the frame's unit is the IOD
    assert len(b.rows) == len(AU_NAMES)


def test_rows_are_left_right_symmetric():
    b = load_basis()
    mirrored = b.dense[:, b.mirror] * np.array([-1.0, 1.0])
    assert np.abs(mirrored - b.dense).max() < 0.01


def test_au26_opens_the_lips_by_the_documented_amount():
    b = load_basis()
    k = au_index("AU26")
    gap = b.landmarks[k, 66, 1] - b.landmarks[k, 62, 1]
    expected = SCALES["AU26"] * RAW_JAWOPEN_LIP_GAP
    assert abs(gap - expected) < 0.02, (gap, expected)
    assert 0.15 <= gap <= 0.25  # a jaw drop, not the AU27-sized 0.5 IOD of the source
    assert b.landmarks[k, 8, 1] > 0.1  # the chin goes down


def test_pyfeat_rows_are_scaled_and_extended_to_the_dense_set():
    b = load_basis()
    raw68 = _raw_rows("au_landmarks_68.csv", 68)
    for au in ("AU23", "AU25"):
        k = au_index(au)
        assert ROWS[au].endswith("_alt_mouthsym")
        # exact except where the lip-contact rule pushed the upper lip (AU23 only)
        untouched = np.setdiff1d(np.arange(68), [49, 50, 51, 52, 53, 61, 62, 63])
        rows = untouched if au == "AU23" else np.arange(68)
        np.testing.assert_allclose(b.landmarks[k, rows], SCALES[au] * raw68[ROWS[au]][rows], atol=1e-12)
        lm_max = np.hypot(*b.landmarks[k].T).max()
        dense_max = np.hypot(*b.dense[k].T).max()
        assert dense_max <= 1.1 * lm_max  # interpolation without overshoot
        moved = np.hypot(*b.dense[k, 68:].T) > 1e-4
        assert moved.any()
        far = np.hypot(*(b.dense_points[68:] - b.dense_points[57]).T) > 0.8
        assert not moved[far].any()  # only the mouth region moves
    k = au_index("AU25")
    assert b.landmarks[k, 66, 1] - b.landmarks[k, 62, 1] > 0.2  # lips part


def test_au6_is_cheek_squint_and_ict_rows_are_unchanged():
    b = load_basis()
    raw = _raw_rows("au_dense.csv", 520)
    np.testing.assert_allclose(b.dense[au_index("AU06")], raw["AU6"], atol=1e-12)
    # ICT rows without lip contact are used as they are
    for au in ("AU01", "AU02", "AU04", "AU05", "AU07", "AU45"):
        np.testing.assert_allclose(b.dense[au_index(au)], raw["AU" + str(int(au[2:]))], atol=1e-12)


def test_no_row_pushes_the_lower_lip_through_the_upper_lip():
    b = load_basis()
    for k in range(len(AU_NAMES)):
        for upper, lower in LIP_PAIRS:
            assert b.landmarks[k, lower, 1] - b.landmarks[k, upper, 1] >= -1e-9, AU_NAMES[k]
    k = au_index("AU17")  # the chin raiser pushes the upper lip up (FACS)
    assert b.landmarks[k, 62, 1] < -0.05 and b.landmarks[k, 51, 1] < -0.02
