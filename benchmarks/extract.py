"""Benchmark: ``miex aus extract`` (built-in estimator) versus the landmarking floor (issue 15).

Writes ``--clips`` CASME II clips (``CASME2_RAW_selected/subNN/EPxx/imgN.jpg`` and the coding
sheet, :func:`miex.testing.write_casme2_fixture`) of ``--frames`` 640x480 JPEG frames each, one
real person per subject moving about a pixel with a micro-expression
(:mod:`miex.testing.people`), then times in each of ``--repeats`` rounds:

* the floor: every frame decoded (:func:`miex.faces.load_image`) and dlib's 68-point shape
  prediction run on it with the face box known (found once per clip before timing), in
  ``--workers`` processes (:func:`miex.parallel.run_tasks`, as the extraction uses);
* ``miex aus extract casme2 --workers N`` into an empty output folder (no CSV to reuse).

The ratio line uses the fastest round of each (fairer on a shared, loaded machine), and the
load average is printed with every figure. The CPU seconds of all processes (user + system)
are printed too: on this VM they move less between runs than the wall-clock times.

At the default size most of the floor is start-up (spawning the workers, importing, loading
dlib's models: about 2.5 of its 4 CPU seconds), so the ratio line says little about a whole
dataset. After the rounds, both also run ``--repeats`` times in this process, one clip after
another, with the models already loaded, and their CPU seconds per frame are printed: the
``per frame`` ratio is what the ratio approaches on a dataset of many clips.

``--compare`` also runs ``--detect every`` (face detection on every frame, the behaviour before
tracking) on the same clips and prints how far the two AU tables are apart and how well each
recovers the rendered apex AUs.

    python benchmarks/extract.py                          # 8 clips x 60 frames, 2 rounds
    python benchmarks/extract.py --clips 2 --frames 20 --repeats 1   # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import cpu_seconds, load, scratch


def write_clips(root: Path, clips: int, frames: int):
    """A CASME II tree of ``clips`` clips (two per subject) of ``frames`` frames; the fixture."""
    from miex.testing import ClipSpec, write_casme2_fixture
    from miex.testing.people import recording_source

    emotions = ("happiness", "disgust", "surprise")
    specs = []
    for k in range(clips):
        onset = 10 + 3 * k
        specs.append(ClipSpec(f"sub{k // 2 + 1:02d}", f"EP{k + 1:02d}_01", emotions[k % 3], onset,
                              onset + frames // 2, onset + frames - 1, "12"))
    subjects = sorted({("casme2", s.subject) for s in specs})
    return write_casme2_fixture(root, specs, frame_source=recording_source(subjects)), specs


def _floor_clip(task: tuple[list[str], tuple[int, int, int, int]]) -> int:
    """Decode every frame of a clip and run the shape predictor on the known box."""
    from miex.faces import FaceDetector, load_image

    paths, box = task
    det = FaceDetector()
    for path in paths:
        det.landmarks(load_image(path), box)
    return len(paths)


def floor_tasks(fixture) -> list[tuple[list[str], tuple[int, int, int, int]]]:
    """(frames, box of the first frame's face) per clip; detection is not part of the floor."""
    from miex.faces import FaceDetector, load_image, locate_face

    det = FaceDetector()
    tasks = []
    for frames in fixture.clips["frames"]:
        box, _, _ = locate_face(load_image(frames[0]), det, frames[0])
        tasks.append((list(frames), box))
    return tasks


def time_floor(tasks, workers: int) -> float:
    from miex.parallel import run_tasks

    started = time.perf_counter()
    total = sum(n for _, n in run_tasks(_floor_clip, tasks, workers=workers))
    seconds = time.perf_counter() - started
    assert total == sum(len(t[0]) for t in tasks)
    return seconds


def time_extract(root: Path, out: Path, workers: int, detect: str = "track") -> float:
    from miex.cli.main import main

    shutil.rmtree(out, ignore_errors=True)
    argv = ["aus", "extract", "casme2", "--root", str(root), "--out", str(out), "--quiet",
            "--workers", str(workers), "--detect", detect]
    err = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        rc = main(argv)
    seconds = time.perf_counter() - started
    if rc != 0:
        raise SystemExit(f"miex aus extract failed:\n{err.getvalue()}")
    return seconds


def tables(out: Path) -> dict[str, pd.DataFrame]:
    base = out / "casme2"
    index = pd.read_csv(base / "index.csv", dtype=str)
    return {f"{r.subject}/{r.clip}": pd.read_csv(base / r.csv) for r in index.itertuples()}


def recovery(found: dict[str, pd.DataFrame], specs) -> float:
    """Pearson r of the apex frame's AUs with the rendered apex AUs, over all clips and AUs."""
    from miex.au.space import AU_NAMES
    from miex.testing.datasets import clip_info
    from miex.testing.people import clip_z

    est, truth = [], []
    for spec in specs:
        table = found[f"{spec.subject}/{spec.clip}"].set_index("frame")
        est.append(table.loc[int(spec.apex), list(AU_NAMES)].to_numpy(float))
        truth.append(clip_z(clip_info("casme2", spec)))
    return float(np.corrcoef(np.ravel(est), np.ravel(truth))[0, 1])


def compare(track: dict[str, pd.DataFrame], every: dict[str, pd.DataFrame]) -> str:
    from miex.au.space import AU_NAMES

    a = np.vstack([track[k][list(AU_NAMES)].to_numpy() for k in sorted(track)])
    b = np.vstack([every[k][list(AU_NAMES)].to_numpy() for k in sorted(track)])
    return f"max |track - every| {np.abs(a - b).max():.4f}, mean {np.abs(a - b).mean():.4f}, r {np.corrcoef(a.ravel(), b.ravel())[0, 1]:.3f}"


def load_models_here(root: Path, out: Path) -> None:
    """Run one extraction in this process, so that dlib's models, the 3d model and the
    modules are loaded before :func:`per_frame_cpu` times anything."""
    time_extract(root, out, 1)


def per_frame_cpu(tasks, root: Path, out: Path) -> tuple[float, float]:
    """(floor, extraction) CPU seconds of this process per frame, both run here on every clip
    (after :func:`load_models_here`): the per-frame cost without any start-up."""
    n_frames = sum(len(paths) for paths, _ in tasks)
    started = time.process_time()
    for task in tasks:
        _floor_clip(task)
    floor = time.process_time() - started
    started = time.process_time()
    time_extract(root, out, 1)
    return floor / n_frames, (time.process_time() - started) / n_frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=60, help="frames per clip, onset to offset (default 60)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=2,
                        help="rounds of (floor, extract); the ratio uses the fastest of each (default 2)")
    parser.add_argument("--compare", action="store_true", help="also run --detect every and compare the AU tables")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    with scratch("miex-bench-extract-", args.keep) as work:
        started = time.perf_counter()
        fixture, specs = write_clips(work / "casme2", args.clips, args.frames)
        n_frames = sum(len(f) for f in fixture.clips["frames"])
        print(f"machine: {os.cpu_count()} cores; workers {args.workers}; {args.clips} clips, {n_frames} frames "
              f"of 640x480 written in {time.perf_counter() - started:.1f} s; {load()}")
        tasks = floor_tasks(fixture)
        floors, totals, floor_cpu, total_cpu, per_frame = [], [], [], [], []
        for round_ in range(max(args.repeats, 1)):
            floor_cpu.append(-sum(cpu_seconds()))
            floors.append(time_floor(tasks, args.workers))
            floor_cpu[-1] += sum(cpu_seconds())
            total_cpu.append(-sum(cpu_seconds()))
            totals.append(time_extract(work / "casme2", work / "aus", args.workers))
            total_cpu[-1] += sum(cpu_seconds())
            print(f"round {round_ + 1}: floor {floors[-1]:.2f} s, extract {totals[-1]:.2f} s "
                  f"(ratio {totals[-1] / floors[-1]:.2f}); CPU of all processes {floor_cpu[-1]:.2f} s / "
                  f"{total_cpu[-1]:.2f} s; {load()}")
        load_models_here(work / "casme2", work / "aus-here")  # after the rounds: they stay loaded here
        for _ in range(max(args.repeats, 1)):
            per_frame.append(per_frame_cpu(tasks, work / "casme2", work / "aus-here"))
        floor, total = min(floors), min(totals)
        print(f"floor (decode + 68-point shape prediction, box known): {floor:.2f} s = {1000 * floor / n_frames:.1f} ms a frame")
        print(f"miex aus extract (built-in estimator, --detect track): {total:.2f} s = {1000 * total / n_frames:.1f} ms a frame")
        print(f"ratio of CPU seconds (user + system, worker start-up included): {min(total_cpu) / min(floor_cpu):.2f}")
        floor_ms, total_ms = (1000 * min(v) for v in zip(*per_frame))
        print(f"per frame without start-up (CPU seconds in one process, models loaded, least of {len(per_frame)} rounds): "
              f"floor {floor_ms:.2f} ms, extract {total_ms:.2f} ms, ratio {total_ms / floor_ms:.2f} "
              f"(what the ratio approaches on a whole dataset)")
        print(f"ratio extract / floor: {total / floor:.2f} (fastest of {len(totals)} rounds each; goal <= 2.0); {load()}")
        if args.compare:
            tracked = tables(work / "aus")
            every_s = time_extract(work / "casme2", work / "aus-every", args.workers, detect="every")
            every = tables(work / "aus-every")
            print(f"--detect every: {every_s:.2f} s = {1000 * every_s / n_frames:.1f} ms a frame; {load()}")
            print(f"quality: apex AUs vs rendered r {recovery(tracked, specs):.3f} (track), "
                  f"{recovery(every, specs):.3f} (every); {compare(tracked, every)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
