"""Per-frame AUs of head-moving sequences made from real photos, as PNGs (issue 13).

    python benchmarks/au_video.py [--frames 48] [--detect track|every] [--out DIR]

No public Python package installed here ships a usable real face video (the only face
animation found, scikit-image's ``no_time_for_that_tiny.gif``, is 25 x 14 pixels), so the
sequences are made from the real photos shipped with scikit-image / matplotlib (astronaut,
Grace Hopper) with :mod:`miex.au.posed`: the head turns (yaw 25 sin) and tilts (roll 10 sin,
twice as fast) all along; a smile (AU12 0.8, AU6 0.4, AU25 0.3) rises and falls in the first
third, the brows go up (AU1 0.7, AU2 0.7) in the second. Frames are written as 640x480 PNGs and
read back by :func:`miex.au.estimate.estimate_clip` exactly as ``miex aus estimate`` does
(``--detect track``, the default: one dlib detection, then tracking; ``every``: detection on
each frame, the behaviour before tracking), with

* ``3d absolute`` (the default of ``miex aus estimate``: no neutral frame),
* ``3d relative + flow`` (relative to the first frame, dense-flow refinement: what
  ``miex aus extract`` uses for MER clips),
* ``2d`` (the first estimator, relative to the first frame).

Printed: per estimator, Pearson r of AU12 and of (AU1 + AU2)/2 with the rendered ones frame by
frame, and the largest value any other AU reaches. PNG: ``OUT/au_video_<face>.png``.
Note the astronaut smiles in the photo itself: absolute AU12 starts above zero.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def schedule(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, 17) rendered z, yaw and roll per frame."""
    from miex.au.space import N_AUS, au_index

    t = np.arange(n)
    bump = lambda a, b: np.clip(np.sin(np.pi * (t - a) / (b - a)), 0, None) * ((t >= a) & (t <= b))  # noqa: E731
    z = np.zeros((n, N_AUS))
    smile, brows = bump(n * 0.05, n * 0.4), bump(n * 0.5, n * 0.85)
    z[:, au_index("AU12")] = 0.8 * smile
    z[:, au_index("AU06")] = 0.4 * smile
    z[:, au_index("AU25")] = 0.3 * smile
    z[:, au_index("AU01")] = 0.7 * brows
    z[:, au_index("AU02")] = 0.7 * brows
    yaw = 25.0 * np.sin(2 * np.pi * t / n)
    roll = 10.0 * np.sin(4 * np.pi * t / n + 0.5)
    return z, yaw, roll


def run_face(path: Path, n: int, out: Path, detect: str = "track") -> dict[str, dict[str, float]]:
    import cv2

    from miex.au.estimate import estimate_clip
    from miex.au.plot import plot_clip_aus
    from miex.au.posed import prepare_posed, render_posed
    from miex.au.space import AU_NAMES, au_index
    from miex.faces import FaceDetector, detect_face
    from miex.generators import create_generator

    det = FaceDetector()
    gen = create_generator("warp")
    pf = prepare_posed(detect_face(str(path), size=352, detector=det), gen)
    z, yaw, roll = schedule(n)
    shown = list(np.linspace(0, n - 1, 7).round().astype(int))
    thumbs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            frame = render_posed(pf, gen, z[i], yaw[i], roll[i])
            cv2.imwrite(str(Path(tmp) / f"img{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            if i in shown:
                thumbs.append(frame[60:420, 140:500])
        tables, times = {}, {}
        for name, kw in (
            ("3d absolute", dict(method="3d", reference="absolute")),
            ("3d relative + flow", dict(method="3d", reference="first", flow=True)),
            ("2d", dict(method="2d", reference="first")),
        ):
            t0 = time.perf_counter()
            tables[name] = estimate_clip(tmp, detector=det, detect=detect, **kw)
            times[name] = time.perf_counter() - t0
    truth = pd.DataFrame(z, columns=list(AU_NAMES))
    truth.insert(0, "frame", np.arange(n))
    png = plot_clip_aus(thumbs, shown, tables, out / f"au_video_{path.stem}.png", truth=truth,
                        title=f"{path.stem}: yaw +-25 deg, roll +-10 deg; smile, then brows up")
    results = {}
    brow_true = z[:, [au_index("AU01"), au_index("AU02")]].mean(1)
    moved = {"AU01", "AU02", "AU06", "AU12", "AU25"}
    for name, table in tables.items():
        tab = table.set_index("frame").reindex(range(n))
        ok = tab["AU12"].notna().to_numpy()
        r12 = float(np.corrcoef(z[ok, au_index("AU12")], tab["AU12"].to_numpy()[ok])[0, 1])
        rbrow = float(np.corrcoef(brow_true[ok], tab[["AU01", "AU02"]].to_numpy()[ok].mean(1))[0, 1])
        other = tab[[a for a in AU_NAMES if a not in moved]].max()
        results[name] = {"r_AU12": r12, "r_brows": rbrow, "max_other": float(other.max()),
                         "max_other_au": str(other.idxmax()), "frames": int(ok.sum()),
                         "s_per_frame": times[name] / n}
    print(f"{path.stem}: {png}")
    for name, m in results.items():
        print(f"  {name:>20}: AU12 r {m['r_AU12']:.2f}, brows r {m['r_brows']:.2f}, largest other AU "
              f"{m['max_other_au']} {m['max_other']:.2f}; {m['frames']}/{n} frames, {m['s_per_frame']:.2f} s/frame")
    return results


def main() -> None:
    from miex.faces import builtin_face_paths

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--detect", choices=["track", "every"], default="track")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in builtin_face_paths():
        run_face(path, args.frames, args.out, args.detect)


if __name__ == "__main__":
    main()
