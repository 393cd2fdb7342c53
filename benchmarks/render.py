"""Speed of the warp generator: per-face setup, steady-state frames/s, MiE-X projection.

    python benchmarks/render.py [--frames 2000] [--faces 40] [--grid 64] [--profile]

Measures, on the real faces shipped with scikit-image / matplotlib (astronaut, Grace Hopper,
and their mirror images), aligned once (detection is excluded, as is JPEG encoding):

- the global template-frame table: build time (first run, then cached on disk) and load time
  (once per process);
- per-face setup (``prepare``) in ms;
- steady-state frames/s of ``render`` for random MiE vectors (each AU active with p = 0.3,
  intensity U[0.1, 0.3]; all 18 frames of a face non-zero, which is pessimistic: MiE-X onsets
  from the expert source are all-zero and cost a copy);

at 128² and 256², then projects the full MiE-X scale: 5,000 faces x 18 frames = 90,000 frames
at 128², counting per-face setup. Goal: < 3 minutes (~500 frames/s) on 2 cores.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time

import numpy as np

GOAL_S = 180.0
N_FACES_MIEX = 5000
FRAMES_PER_FACE = 18


def _faces(size: int):
    from miex.faces import FaceDetector, builtin_face_paths, detect_face, load_image

    det = FaceDetector()
    out = []
    for path in builtin_face_paths():
        rgb = load_image(path)
        for img in (rgb, np.ascontiguousarray(rgb[:, ::-1])):
            out.append(detect_face(img, size=size, detector=det))
    if not out:
        raise SystemExit("no built-in face photos found (scikit-image / matplotlib sample data)")
    return out


def _random_z(gen: np.random.Generator, n: int) -> np.ndarray:
    z = np.where(gen.random((n, 17)) < 0.3, gen.uniform(0.1, 0.3, (n, 17)), 0.0)
    z[~z.any(axis=1), 8] = 0.2  # never all-zero (that would be a copy)
    return z


def measure(size: int, n_frames: int, n_faces: int, grid: int) -> dict[str, float]:
    from miex.generators import create_generator

    gen = create_generator("warp", grid=grid)
    faces = _faces(size)
    for f in faces:  # warm-up
        gen.render(gen.prepare(f), np.full(17, 0.2))
    t0 = time.perf_counter()
    preps = [gen.prepare(faces[i % len(faces)]) for i in range(n_faces)]
    setup = (time.perf_counter() - t0) / n_faces
    zs = _random_z(np.random.default_rng(0), n_frames)
    t0 = time.perf_counter()
    for i, z in enumerate(zs):
        gen.render(preps[i % len(preps)], z)
    frame = (time.perf_counter() - t0) / n_frames
    return {"size": size, "setup_ms": setup * 1e3, "frame_ms": frame * 1e3, "fps": 1.0 / frame}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--faces", type=int, default=40)
    ap.add_argument("--grid", type=int, default=64)
    ap.add_argument("--profile", action="store_true", help="cProfile one 128² run and print the top functions")
    args = ap.parse_args()

    import cv2

    from miex.generators.warp import _build_table, template_table

    t0 = time.perf_counter()
    template_table()  # disk cache (built on the first run ever)
    table_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    _build_table()
    build_s = time.perf_counter() - t0
    rows = [measure(s, args.frames, args.faces, args.grid) for s in (128, 256)]

    print(f"warp generator, grid {args.grid}; {os.cpu_count()} CPUs, cv2 threads {cv2.getNumThreads()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"global template table: {build_s:.2f} s to build (first run ever), {table_s:.2f} s to load from the cache (once per process)")
    print(f"{'size':>6} {'setup ms/face':>14} {'frame ms':>9} {'frames/s':>9}")
    for r in rows:
        print(f"{r['size']:>5}² {r['setup_ms']:>14.2f} {r['frame_ms']:>9.3f} {r['fps']:>9.0f}")
    r = rows[0]
    total = N_FACES_MIEX * (r["setup_ms"] + FRAMES_PER_FACE * r["frame_ms"]) / 1e3 + table_s
    eff = N_FACES_MIEX * FRAMES_PER_FACE / total
    verdict = "meets" if total < GOAL_S else f"misses by {total - GOAL_S:.0f} s"
    print(f"MiE-X projection, 128²: {N_FACES_MIEX} faces x {FRAMES_PER_FACE} frames = "
          f"{N_FACES_MIEX * FRAMES_PER_FACE} frames in {total:.0f} s ({eff:.0f} frames/s incl. setup); "
          f"goal < {GOAL_S:.0f} s: {verdict}")

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        measure(128, args.frames, args.faces, args.grid)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
