"""Regenerate ``src/miex/data/au_basis/face_model3d.npz`` from an ICT-FaceKit checkout.

Usage::

    python tools/make_face_model3d.py ICT-FaceKit/ src/miex/data/au_basis/face_model3d.npz

``ICT-FaceKit/`` is a checkout of github.com/ICT-VGL/ICT-FaceKit (MIT licence; the shipped file
was made from commit ``da5f95a607f5e6b37755b38d3385d7f2853732e5``). Only vertex positions of
``FaceXModel/*.obj`` are read, and only at the 520 dense points of ``dense_points_meta.csv``
(the first 68 are the iBUG landmarks), so the output is small (74 KiB).

Frame (same as the 2D basis, see ``au_basis/README.md``): origin = midpoint of the two eye
centres (mean of the landmark vertices 36-41 / 42-47), unit = inter-ocular distance of the
neutral mesh, x = mesh x (image right in a frontal view), y = -mesh y (down), z = -mesh z
(away from the viewer). (x, y, z) -> (x, -y, -z) is a rotation, so the frame stays right-handed.

Arrays written:

* ``template`` (520, 3): the generic neutral mesh at the dense points; its x, y equal
  ``dense_points.csv`` to the 4 decimals that file has (checked here).
* ``identity`` (100, 68, 3) float32: identity PCA modes ``identityNNN.obj - neutral`` at the 68
  landmarks (ICT samples identity weights from N(0, 1), so one unit = one standard deviation).
* ``expr_names`` (n,), ``expr_dz`` (n, 520) float32: the z (depth) displacement of each ICT
  source row of ``au_dense.csv`` (same shape sums, e.g. AU12 = mouthSmile_L + mouthSmile_R),
  unscaled; x, y of the rows stay those of the CSV (the generator's basis).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

#: Source shapes of each ICT row of au_dense.csv (README of au_basis, "Mapping").
ROW_SHAPES: dict[str, tuple[str, ...]] = {
    "AU1": ("browInnerUp_L", "browInnerUp_R"),
    "AU2": ("browOuterUp_L", "browOuterUp_R"),
    "AU4": ("browDown_L", "browDown_R"),
    "AU5": ("eyeWide_L", "eyeWide_R"),
    "AU6": ("cheekSquint_L", "cheekSquint_R"),
    "AU6_alt_cheekRaiser": ("cheekRaiser_L", "cheekRaiser_R"),
    "AU7": ("eyeSquint_L", "eyeSquint_R"),
    "AU9": ("noseSneer_L", "noseSneer_R"),
    "AU10": ("mouthShrugUpper",),
    "AU10_alt_mouthUpperUp": ("mouthUpperUp_L", "mouthUpperUp_R"),
    "AU12": ("mouthSmile_L", "mouthSmile_R"),
    "AU14": ("mouthDimple_L", "mouthDimple_R"),
    "AU15": ("mouthFrown_L", "mouthFrown_R"),
    "AU17": ("mouthShrugLower",),
    "AU20": ("mouthStretch_L", "mouthStretch_R"),
    "AU26": ("jawOpen",),
    "AU45": ("eyeBlink_L", "eyeBlink_R"),
}

N_IDENTITY = 100


def read_vertices(path: Path, upto: int) -> np.ndarray:
    """The first ``upto`` vertex positions (``v`` lines) of an OBJ file."""
    out = []
    with path.open("r", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("v "):
                out.append([float(v) for v in line.split()[1:4]])
                if len(out) == upto:
                    break
    if len(out) < upto:
        raise SystemExit(f"{path}: only {len(out)} vertices")
    return np.asarray(out, dtype=np.float64)


def to_frame(v: np.ndarray, origin: np.ndarray, unit: float) -> np.ndarray:
    return (v - origin) * np.array([1.0, -1.0, -1.0]) / unit


def main(ict: Path, out: Path) -> None:
    data = Path(__file__).resolve().parents[1] / "src" / "miex" / "data" / "au_basis"
    with (data / "dense_points_meta.csv").open() as fh:
        meta = sorted(csv.DictReader(fh), key=lambda r: int(r["point"]))
    verts = np.array([int(r["ict_vertex"]) for r in meta])
    upto = int(verts.max()) + 1
    model = ict / "FaceXModel"
    neutral = read_vertices(model / "generic_neutral_mesh.obj", upto)[verts]
    left, right = neutral[36:42].mean(0), neutral[42:48].mean(0)
    origin = (left + right) / 2
    unit = float(np.linalg.norm((right - left)[:2]))
    template = to_frame(neutral, origin, unit)

    with (data / "dense_points.csv").open() as fh:
        xy = np.array([[float(r["x"]), float(r["y"])] for r in sorted(csv.DictReader(fh), key=lambda r: int(r["point"]))])
    err = np.abs(template[:, :2] - xy).max()
    if err > 6e-4:
        raise SystemExit(f"frame mismatch with dense_points.csv: {err:.5f} IOD")

    scale = np.array([1.0, -1.0, -1.0]) / unit
    identity = np.zeros((N_IDENTITY, 68, 3))
    for k in range(N_IDENTITY):
        shape = read_vertices(model / f"identity{k:03d}.obj", upto)[verts[:68]]
        identity[k] = (shape - neutral[:68]) * scale
    names = sorted(ROW_SHAPES)
    dz = np.zeros((len(names), len(verts)))
    for i, name in enumerate(names):
        for shape in ROW_SHAPES[name]:
            dz[i] += ((read_vertices(model / f"{shape}.obj", upto)[verts] - neutral) * scale)[:, 2]
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        template=template.astype(np.float64),
        identity=identity.astype(np.float32),
        expr_names=np.array(names),
        expr_dz=dz.astype(np.float32),
    )
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB); frame check {err:.5f} IOD")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
