"""The 3D face model behind the AU estimator: ICT-FaceKit's neutral mesh, identity PCA modes
and the generator's AU rows lifted to 3D.

Data: ``miex/data/au_basis/face_model3d.npz`` (derived from ICT-FaceKit, MIT licence, by
``tools/make_face_model3d.py``; see ``au_basis/README.md``). Frame: the 2D basis frame
(origin between the eye centres, x right, y down, unit = inter-ocular distance, IOD) plus
z = depth away from the viewer, so a frontal orthographic view is ``(x, y)``.

One basis, two directions: the x, y of every AU row here are exactly the calibrated rows the
warp generator renders with (:func:`miex.au.basis.load_basis`, scales and lip contact
included); only the depth component z is added, from the same ICT shapes times the same
scale. py-feat's AU23/AU25 rows have no 3D source and get z = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from miex.au.basis import load_basis
from miex.au.space import N_AUS

#: Identity PCA modes used by default (of 100; ICT orders them by variance: mode 0 moves the
#: landmarks 0.05 IOD RMS per standard deviation, mode 40 0.003, mode 99 0.001).
N_IDENTITY = 40


@dataclass(frozen=True)
class FaceModel3D:
    """Model arrays in the 3D template frame (IOD units), AUs in ``AU_NAMES`` order."""

    template: np.ndarray  # (68, 3) neutral landmarks
    dense_template: np.ndarray  # (520, 3) neutral dense points; [:68] == template
    identity: np.ndarray  # (K, 68, 3) identity modes (one unit = one standard deviation)
    expressions: np.ndarray  # (17, 68, 3) AU rows at intensity 1
    dense_expressions: np.ndarray  # (17, 520, 3) AU rows on the dense points

    @property
    def n_identity(self) -> int:
        return int(self.identity.shape[0])

    def shape(self, beta: np.ndarray | None = None, z: np.ndarray | None = None) -> np.ndarray:
        """(68, 3) landmarks of identity ``beta`` (K,) with AU vector ``z`` (17,)."""
        out = self.template.copy()
        if beta is not None:
            out += np.tensordot(np.asarray(beta, dtype=np.float64), self.identity, axes=1)
        if z is not None:
            out += np.tensordot(np.asarray(z, dtype=np.float64), self.expressions, axes=1)
        return out


def _load_npz() -> dict[str, np.ndarray]:
    path = resources.files("miex").joinpath("data", "au_basis", "face_model3d.npz")
    with path.open("rb") as fh, np.load(fh) as data:
        return {k: data[k] for k in data.files}


@lru_cache(maxsize=4)
def load_face_model(n_identity: int = N_IDENTITY) -> FaceModel3D:
    """The 3D model with the first ``n_identity`` identity modes (cached, read-only arrays)."""
    raw = _load_npz()
    basis = load_basis()
    dense_template = np.asarray(raw["template"], dtype=np.float64).copy()
    dense_template[:, :2] = basis.dense_points  # identical to 4 decimals; use the basis' own
    names = [str(n) for n in raw["expr_names"]]
    dz = np.asarray(raw["expr_dz"], dtype=np.float64)
    dense = np.zeros((N_AUS, basis.n_dense, 3))
    dense[..., :2] = basis.dense
    for k, row in enumerate(basis.rows):
        if row in names:
            dense[k, :, 2] = dz[names.index(row)] * basis.scales[k]
    identity = np.asarray(raw["identity"][: int(n_identity)], dtype=np.float64)
    model = FaceModel3D(
        template=dense_template[:68].copy(),
        dense_template=dense_template,
        identity=identity,
        expressions=dense[:, :68].copy(),
        dense_expressions=dense,
    )
    for arr in (model.template, model.dense_template, model.identity, model.expressions, model.dense_expressions):
        arr.setflags(write=False)
    return model
