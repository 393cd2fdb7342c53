"""Optical flow, strain and flow features on pairs with a known motion."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage

from miex.errors import MiexError
from miex.features import flow_features, optical_flow, optical_strain
from miex.seeding import rng

METHODS = ["tvl1", "farneback", "dis"]


@pytest.fixture(scope="module")
def shifted_texture() -> tuple[np.ndarray, np.ndarray]:
    """A smooth random texture (128x128) and the same texture moved 1.5 px to the right."""
    noise = rng(0, "flow-texture").random((160, 160))
    tex = ndimage.gaussian_filter(noise, 2.0)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    moved = ndimage.shift(tex, (0.0, 1.5), order=3, mode="reflect")  # content moves +1.5 px in x
    return tex[16:-16, 16:-16].astype(np.float32), moved[16:-16, 16:-16].astype(np.float32)


@pytest.mark.parametrize("method", METHODS)
def test_recovers_a_known_translation(shifted_texture, method: str) -> None:
    onset, apex = shifted_texture
    flow = optical_flow(onset, apex, method=method)
    assert flow.shape == (128, 128, 2) and flow.dtype == np.float32
    inner = flow[16:-16, 16:-16]
    assert abs(float(np.median(inner[..., 0])) - 1.5) < 0.1
    assert abs(float(np.median(inner[..., 1]))) < 0.1
    assert float(np.mean(np.abs(inner[..., 0] - 1.5))) < 0.15
    # the opposite direction gives the opposite flow (catches swapped u/v or sign errors)
    back = optical_flow(apex, onset, method=method)[16:-16, 16:-16]
    assert abs(float(np.median(back[..., 0])) + 1.5) < 0.1


def _face_pair(rgb: np.ndarray, scale: float, tx: float, ty: float):
    """Astronaut face crop (128 px) and the same crop after a zoom about its centre and a shift."""
    x0, y0, s = 164, 48, 128
    cx, cy = x0 + s / 2, y0 + s / 2
    m = np.array([[scale, 0.0, (1 - scale) * cx + tx], [0.0, scale, (1 - scale) * cy + ty]])
    moved = cv2.warpAffine(rgb, m, (rgb.shape[1], rgb.shape[0]), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    ys, xs = np.mgrid[y0:y0 + s, x0:x0 + s].astype(np.float64)
    # cv2.warpAffine: moved(M p) = rgb(p), so the onset->apex flow at p is M p - p
    gu = m[0, 0] * xs + m[0, 1] * ys + m[0, 2] - xs
    gv = m[1, 0] * xs + m[1, 1] * ys + m[1, 2] - ys
    return rgb[y0:y0 + s, x0:x0 + s], moved[y0:y0 + s, x0:x0 + s], np.stack([gu, gv], -1)


@pytest.mark.parametrize("method", METHODS)
def test_real_face_zoom_and_shift(astronaut_rgb, method: str) -> None:
    onset, apex, truth = _face_pair(astronaut_rgb, 1.04, 1.0, -0.5)
    flow = optical_flow(onset, apex, method=method)
    err = np.linalg.norm(flow - truth, axis=-1)[12:-12, 12:-12]
    gt_mag = float(np.linalg.norm(truth, axis=-1).mean())
    assert gt_mag > 1.5
    assert float(np.median(err)) < 0.25
    assert float(err.mean()) < 0.15 * gt_mag
    zero_err = float(np.linalg.norm(truth, axis=-1)[12:-12, 12:-12].mean())
    assert float(err.mean()) < 0.2 * zero_err


def test_strain_of_a_translation_is_zero() -> None:
    flow = np.zeros((40, 50, 2), np.float32)
    flow[..., 0], flow[..., 1] = 1.7, -0.4
    assert np.allclose(optical_strain(flow), 0.0)


def test_strain_of_linear_fields_has_the_known_value() -> None:
    ys, xs = np.mgrid[0:40, 0:50].astype(np.float64)
    a, b, s = 0.03, -0.02, 0.05
    stretch = np.stack([a * xs, b * ys], -1)  # exx = a, eyy = b, exy = 0
    assert np.allclose(optical_strain(stretch), np.hypot(a, b), atol=1e-6)
    shear = np.stack([s * ys, np.zeros_like(ys)], -1)  # exy = s / 2 -> sqrt(2 (s/2)^2) = s / sqrt 2
    assert np.allclose(optical_strain(shear), s / np.sqrt(2), atol=1e-6)
    assert optical_strain(stretch).dtype == np.float32


def test_strain_of_a_real_face_zoom(astronaut_rgb) -> None:
    onset, apex, _ = _face_pair(astronaut_rgb, 1.04, 0.0, 0.0)
    strain = optical_strain(optical_flow(onset, apex, method="tvl1"))[12:-12, 12:-12]
    expected = 0.04 * np.sqrt(2)  # zoom: exx = eyy = 0.04
    assert abs(float(np.median(strain)) - expected) < 0.4 * expected


def test_flow_features_layout_units_and_normalisation(astronaut_rgb) -> None:
    onset, apex, _ = _face_pair(astronaut_rgb, 1.0, 2.0, 0.0)  # pure 2 px shift right at 128 px
    raw = flow_features(onset, apex, size=28, method="farneback", normalize="none")
    assert raw.shape == (3, 28, 28) and raw.dtype == np.float32
    assert abs(float(np.median(raw[0])) - 2.0 * 28 / 128) < 0.05  # u in 28-px units
    assert abs(float(np.median(raw[1]))) < 0.05
    assert float(np.median(raw[2])) < 0.02  # translation: ~no strain
    norm = flow_features(onset, apex, size=28, method="farneback")
    assert norm.min() >= 0.0 and norm.max() <= 1.0
    assert np.allclose(norm.min(axis=(1, 2)), 0.0) and np.allclose(norm.max(axis=(1, 2)), 1.0)
    uv = flow_features(onset, apex, size=32, method="dis", channels=("u", "v"))
    assert uv.shape == (2, 32, 32)
    flow = optical_flow(onset, apex, "farneback")
    assert np.array_equal(flow_features(onset, apex, flow=flow, normalize="none"), raw)


def test_flow_errors() -> None:
    a = np.zeros((32, 32), np.uint8)
    with pytest.raises(MiexError, match="unknown optical flow method 'lk'"):
        optical_flow(a, a, method="lk")
    with pytest.raises(MiexError, match="differ in size"):
        optical_flow(a, np.zeros((32, 40), np.uint8))
    with pytest.raises(MiexError, match="unknown flow feature channel"):
        flow_features(a, a, channels=("u", "w"))
    with pytest.raises(MiexError, match="normalisation"):
        flow_features(a, a, normalize="zscore")
