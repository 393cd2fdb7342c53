"""miex.au.nnls: the batched Lawson-Hanson solver against scipy's NNLS."""

import numpy as np
import pytest
from scipy.optimize import nnls

from miex.au.nnls import nnls_qp


def _problems(rng, frames=60, n=17, rows=80):
    """Least-squares problems |A u - b| with badly scaled columns, as normal equations."""
    A = rng.normal(size=(frames, rows, n)) * rng.uniform(0.05, 20.0, size=(frames, 1, n))
    b = rng.normal(size=(frames, rows)) * 2.0
    return A, b, A.transpose(0, 2, 1) @ A, (A.transpose(0, 2, 1) @ b[..., None])[..., 0]


def test_nnls_qp_equals_scipy_cold_and_warm():
    rng = np.random.default_rng(7)
    A, b, S, s = _problems(rng)
    ref = np.array([nnls(a, y)[0] for a, y in zip(A, b)])
    assert 0.2 < (ref > 0).mean() < 0.8  # the bounds are active on a good share of variables
    cold = nnls_qp(S, s)
    np.testing.assert_allclose(cold, ref, rtol=1e-8, atol=1e-10)
    wrong_guess = (ref > 0) ^ (rng.random(ref.shape) < 0.3)
    np.testing.assert_allclose(nnls_qp(S, s, start=wrong_guess), ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(nnls_qp(S, s, start=ref > 0), cold)


def test_nnls_qp_edge_cases():
    rng = np.random.default_rng(1)
    _, _, S, s = _problems(rng, frames=3, n=5, rows=12)
    np.testing.assert_array_equal(nnls_qp(S, -np.abs(s)), np.zeros_like(s))  # the gradient at 0 points inside
    free = np.linalg.solve(S, np.abs(s)[..., None])[..., 0]
    positive = np.all(free > 0, axis=1)
    out = nnls_qp(S, np.abs(s))
    np.testing.assert_allclose(out[positive], free[positive], rtol=1e-10)
    assert np.all(out >= 0)
    np.testing.assert_array_equal(nnls_qp(S, np.zeros_like(s)), np.zeros_like(s))
    with pytest.raises(ValueError, match="nnls_qp needs"):
        nnls_qp(S[0], s[0])
