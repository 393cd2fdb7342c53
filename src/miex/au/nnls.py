"""Non-negative least squares for many small problems at once.

The AU fits solve, per frame, ``min_u u^T S u - 2 s^T u`` subject to ``u >= 0`` with ``S``
a 17 x 17 positive definite matrix (the normal equations of a least-squares problem with a
ridge term). :func:`nnls_qp` runs the Lawson-Hanson active-set method (Lawson, C. L. and
Hanson, R. J., *Solving Least Squares Problems*, Prentice-Hall, 1974, ch. 23) on that form
for all frames together, each frame with its own passive set; every iteration is one batched
``numpy.linalg.solve``. Because ``S`` is positive definite the minimiser is unique, so the
result equals ``scipy.optimize.nnls`` on the factored problem to rounding (tested).

Why not scipy's: one ``nnls`` call per frame per Gauss-Newton step was 6,000 Python calls a
clip, and ``import scipy.optimize`` alone took 0.6 s in every worker process of
``miex aus extract`` (issue 15).
"""

from __future__ import annotations

import numpy as np

#: Outer iterations (variables entering the passive set) allowed per problem, in units of
#: the number of variables; Lawson-Hanson needs about one per non-zero variable.
MAX_ITER_PER_VARIABLE = 3


def _solve_passive(S: np.ndarray, s: np.ndarray, passive: np.ndarray) -> np.ndarray:
    """Per problem the solution of ``S_PP z_P = s_P`` with ``z = 0`` off the passive set P."""
    n = S.shape[-1]
    both = passive[:, :, None] & passive[:, None, :]
    system = np.where(both, S, 0.0)
    system[:, np.arange(n), np.arange(n)] += ~passive  # identity rows for the zero set
    z = np.linalg.solve(system, np.where(passive, s, 0.0)[..., None])[..., 0]
    return np.where(passive, z, 0.0)


def nnls_qp(S: np.ndarray, s: np.ndarray, start: np.ndarray | None = None, max_iter: int | None = None) -> np.ndarray:
    """``argmin_u u^T S u - 2 s^T u`` with ``u >= 0``, for ``S`` (F, n, n) symmetric positive
    definite and ``s`` (F, n); returns (F, n). (A least-squares problem ``|A u - b|`` is
    ``S = A^T A``, ``s = A^T b``.)

    ``start`` (F, n) bool: a guess of which variables are non-zero (for example the previous
    solution's of a Gauss-Newton loop); the guess changes the work, not the result. With a
    right guess a problem takes one solve instead of one per non-zero variable. ``max_iter``
    bounds the outer iterations (default :data:`MAX_ITER_PER_VARIABLE` x n); a problem that
    reaches it keeps its last feasible point.
    """
    S = np.asarray(S, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    if S.ndim != 3 or S.shape[1] != S.shape[2] or s.shape != S.shape[:2]:
        raise ValueError(f"nnls_qp needs S (F, n, n) and s (F, n), got {S.shape} and {s.shape}")
    F, n = s.shape
    u = np.zeros((F, n))
    passive = np.zeros((F, n), dtype=bool)
    if start is not None:
        passive = _feasible_start(S, s, np.asarray(start, dtype=bool).reshape(F, n), u)
    # Optimality tolerance on the gradient s - S u: its rounding error, about n eps |s| at the optimum.
    tol = 10 * n * np.finfo(np.float64).eps * np.maximum(np.abs(s).max(axis=1, initial=0.0), np.finfo(np.float64).tiny)
    open_ = np.ones(F, dtype=bool)
    for _ in range(MAX_ITER_PER_VARIABLE * n if max_iter is None else max_iter):
        w = s - np.einsum("fij,fj->fi", S, u)
        cand = ~passive & (w > tol[:, None])
        open_ &= cand.any(axis=1)
        rows = np.flatnonzero(open_)
        if rows.size == 0:
            break
        entering = np.argmax(np.where(cand[rows], w[rows], -np.inf), axis=1)
        passive[rows, entering] = True
        _inner(S, s, u, passive, rows)
    return u


def _feasible_start(S: np.ndarray, s: np.ndarray, guess: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A passive set inside ``guess`` whose solution (written to ``u``) is feasible: variables
    whose solution is not positive leave the guess until none is. Lawson-Hanson then goes on
    from there as from the end of one of its own inner loops."""
    passive = guess.copy()
    rows = np.flatnonzero(passive.any(axis=1))
    while rows.size:
        z = _solve_passive(S[rows], s[rows], passive[rows])
        bad = passive[rows] & (z <= 0.0)
        ok = ~bad.any(axis=1)
        u[rows[ok]] = z[ok]
        passive[rows] &= ~bad
        rows = rows[~ok]
    return passive


def _inner(S: np.ndarray, s: np.ndarray, u: np.ndarray, passive: np.ndarray, rows: np.ndarray) -> None:
    """Lawson-Hanson's inner loop for the problems ``rows``: solve on the passive set, and while
    that leaves the feasible region step back to its boundary and drop the variables that hit
    zero. Updates ``u`` and ``passive`` in place."""
    n = u.shape[1]
    for _ in range(n + 1):
        z = _solve_passive(S[rows], s[rows], passive[rows])
        P = passive[rows]
        bad = P & (z <= 0.0)
        infeasible = bad.any(axis=1)
        done = rows[~infeasible]
        u[done] = z[~infeasible]
        if not infeasible.any():
            return
        rows, z, P, bad = rows[infeasible], z[infeasible], P[infeasible], bad[infeasible]
        ur = u[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(bad, ur / (ur - z), np.inf)
        hit = np.argmin(ratio, axis=1)
        alpha = ratio[np.arange(len(rows)), hit]
        ur = ur + alpha[:, None] * (z - ur)
        ur[np.arange(len(rows)), hit] = 0.0
        leave = P & (ur <= 0.0)
        ur[leave] = 0.0
        passive[rows] = P & ~leave
        u[rows] = ur
