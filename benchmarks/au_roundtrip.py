"""Round trip of the AU estimators on posed warp renders of real faces (issue 13).

    python benchmarks/au_roundtrip.py [--samples 40] [--lo 0.1] [--hi 1.0] [--out DIR]

For each real face shipped with scikit-image / matplotlib (astronaut, Grace Hopper, the
cameraman when dlib finds him, and their mirror images), pairs of 640x480 frames are made
with :mod:`miex.au.posed`: a reference frame (z = 0) and an expressive frame (each AU active
with p = 0.3 at U[lo, hi]), in three pose conditions:

* ``frontal``: both frames frontal;
* ``posed``: both frames at the same random pose (yaw U[-30, 30] deg, roll U[-15, 15]);
* ``moving``: each frame at its own random pose (the head moves between them).

dlib (HOG + 68 landmarks, sub-pixel via :func:`miex.au.estimate.precise_landmarks`) reads the
landmarks of both frames; then the estimators run on them:

* ``2d``: the 2D method (reference = the first frame);
* ``3d``: the 3D fit, reference = the first frame;
* ``3d-flow``: the same plus the dense-flow tracks of :mod:`miex.au.flow`;
* ``3d-abs``: the 3D fit, absolute z of the expressive frame (no reference used).

Printed: per AU Pearson r and slope (least squares of estimate on truth) per condition, the r
within faces (per-face means removed) and the time per frame of each estimator (detection and
flow excluded). Landmarks are cached in
``OUT/landmarks_<lo>_<hi>_<samples>.npz`` so estimator settings can be compared without
rendering again.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

CONDITIONS = ("frontal", "posed", "moving")
ESTIMATORS = ("2d", "3d", "3d-flow", "3d-abs")
MAX_YAW, MAX_ROLL = 30.0, 15.0


def _faces(size: int):
    """(name, Face) of the real faces, mirrors included."""
    from miex.faces import FaceDetector, builtin_face_paths, detect_face, load_image
    from miex.errors import InputError

    det = FaceDetector()
    images = [(p.stem, load_image(p)) for p in builtin_face_paths()]
    try:
        from skimage import data

        gray = data.camera()
        images.append(("camera", np.repeat(gray[..., None], 3, axis=2)))
    except ImportError:  # pragma: no cover
        pass
    out = []
    for name, rgb in images:
        for mirror in (False, True):
            img = np.ascontiguousarray(rgb[:, ::-1]) if mirror else rgb
            try:
                out.append((name + ("-mirror" if mirror else ""), detect_face(img, size=size, detector=det)))
            except InputError:
                print(f"skip {name}{'-mirror' if mirror else ''}: no face found")
                break
    return out, det


def _landmarks(frame: np.ndarray, det) -> np.ndarray | None:
    from miex.au.estimate import precise_landmarks
    from miex.errors import InputError
    from miex.faces import locate_face

    try:
        box, _, _ = locate_face(frame, det)
    except InputError:
        return None
    return precise_landmarks(frame, box, det)


def collect(samples: int, lo: float, hi: float, seed: int = 0) -> dict[str, np.ndarray]:
    """Render and landmark every pair; arrays keyed by condition."""
    from tqdm import tqdm

    from miex.au.flow import clip_tracks
    from miex.au.posed import prepare_posed, render_posed
    from miex.au.space import N_AUS
    from miex.generators import create_generator
    from miex.seeding import rng

    gen = create_generator("warp")
    faces, det = _faces(352)
    out: dict[str, list] = {f"{c}_{k}": [] for c in CONDITIONS for k in ("z", "lm", "pose", "face", "tracks")}
    for fi, (name, face) in enumerate(faces):
        pf = prepare_posed(face, gen)
        for cond in CONDITIONS:
            g = rng(seed, "au_roundtrip", name, cond, int(lo * 100), int(hi * 100))
            for _ in tqdm(range(samples), desc=f"{name} {cond}", disable=None, leave=False):
                z = np.where(g.random(N_AUS) < 0.3, g.uniform(lo, hi, N_AUS), 0.0)
                p0 = np.zeros(2) if cond == "frontal" else g.uniform([-MAX_YAW, -MAX_ROLL], [MAX_YAW, MAX_ROLL])
                p1 = p0 if cond != "moving" else g.uniform([-MAX_YAW, -MAX_ROLL], [MAX_YAW, MAX_ROLL])
                f0, f1 = render_posed(pf, gen, np.zeros(N_AUS), *p0), render_posed(pf, gen, z, *p1)
                l0, l1 = _landmarks(f0, det), _landmarks(f1, det)
                if l0 is None or l1 is None:
                    continue
                out[f"{cond}_tracks"].append(clip_tracks([f0, f1], np.stack([l0, l1])).astype(np.float32))
                out[f"{cond}_z"].append(z)
                out[f"{cond}_lm"].append(np.stack([l0, l1]))
                out[f"{cond}_pose"].append(np.stack([p0, p1]))
                out[f"{cond}_face"].append(fi)
    arrays = {k: np.asarray(v) for k, v in out.items()}
    arrays["faces"] = np.array([n for n, _ in faces])
    return arrays


def estimate(name: str, lm: np.ndarray, tracks: np.ndarray | None = None) -> np.ndarray:
    """z (17,) of the second frame of a (2, 68, 2) pair."""
    from miex.au.estimate import estimate_landmarks, estimate_z_2d

    if name == "2d":
        return estimate_z_2d(lm[0], lm[1])
    ref = "absolute" if name == "3d-abs" else "first"
    use = tracks if name == "3d-flow" else None
    return estimate_landmarks(lm, method="3d", reference=ref, smooth=0.0, tracks=use).z[1]


def metrics(t: np.ndarray, f: np.ndarray, faces: np.ndarray) -> dict[str, object]:
    """Overall and per-AU Pearson r and slope (estimate ~ slope * truth + b), and the overall r
    within faces (per-face means removed: the photos are not neutral, so absolute z carries each
    person's own expression as an offset)."""
    from miex.au.space import AU_NAMES

    def r_slope(a, b):
        if a.std() == 0 or b.std() == 0:
            return float("nan"), float("nan")
        return float(np.corrcoef(a, b)[0, 1]), float(np.polyfit(a, b, 1)[0])

    per = {au: r_slope(t[:, k], f[:, k]) for k, au in enumerate(AU_NAMES)}
    r, s = r_slope(t.ravel(), f.ravel())
    tc, fc = t.copy(), f.copy()
    for k in np.unique(faces):
        tc[faces == k] -= tc[faces == k].mean(0)
        fc[faces == k] -= fc[faces == k].mean(0)
    return {"r": r, "slope": s, "r_within_face": r_slope(tc.ravel(), fc.ravel())[0], "per_au": per, "n": int(len(t))}


def main() -> None:
    from miex.au.space import AU_NAMES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=40, help="pairs per face and condition")
    ap.add_argument("--lo", type=float, default=0.1)
    ap.add_argument("--hi", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / f"landmarks_{args.lo}_{args.hi}_{args.samples}.npz"
    if cache.is_file():
        data = dict(np.load(cache))
    else:
        t0 = time.perf_counter()
        data = collect(args.samples, args.lo, args.hi)
        np.savez_compressed(cache, **data)
        print(f"rendered + landmarked in {time.perf_counter() - t0:.0f} s -> {cache}")
    print(f"faces: {', '.join(map(str, data['faces']))}; z active p=0.3 at U[{args.lo}, {args.hi}]")
    results: dict[str, dict] = {}
    for cond in CONDITIONS:
        t, lms = data[f"{cond}_z"], data[f"{cond}_lm"]
        for name in ESTIMATORS:
            t0 = time.perf_counter()
            tr = data[f"{cond}_tracks"]
            f = np.array([estimate(name, lm, tr[i].astype(np.float64)) for i, lm in enumerate(lms)])
            ms = (time.perf_counter() - t0) / max(len(lms), 1) / 2 * 1000
            m = metrics(t, f, data[f"{cond}_face"])
            m["ms_per_frame"] = ms
            results[f"{cond}/{name}"] = m
            print(f"{cond:>8} {name:>7}: n {m['n']:4d}  r {m['r']:.3f}  slope {m['slope']:.2f}  "
                  f"r within face {m['r_within_face']:.3f}  ({ms:.1f} ms/frame)")
    print("\nper-AU r / slope")
    head = f"{'':>16}" + "".join(f"{au[2:]:>11}" for au in AU_NAMES)
    print(head)
    for key, m in results.items():
        print(f"{key:>16}" + "".join(f"{m['per_au'][au][0]:>5.2f}/{m['per_au'][au][1]:<5.2f}" for au in AU_NAMES))
    (args.out / f"au_roundtrip_{args.lo}_{args.hi}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
