"""Benchmark: ``miex synth`` at full MiE-X scale versus the JPEG encode-and-write floor.

Full scale is 5,000 identities x 3 classes x 3 sources = 45,000 samples (90,000 frames at 128 px).
For throughput, the real photos shipped with installed packages (and their mirrors) are
replicated under 5,000 distinct ids as CelebA-style 178x218 aligned JPEGs (the MiE-X face pool); the landmark cache is keyed by content, so detection runs
once per distinct photo. The MaE and MiE pools are drawn from AU tables made here.

The floor JPEG-encodes and writes the same number of 128 px frames into the same number of
sample folders, with the same worker count and the same atomic folder and file writes
(:func:`miex.io.atomic_dir`, :func:`miex.io.write_new_file`), but renders nothing.
Floor and synthesis run back to back in each of ``--repeats`` rounds, each after ``sync`` (the
previous phase's write-back and deletes are not charged to the next), and each is timed until
its files are on disk (a final ``sync``: every phase pays for its own writes, see :func:`timed`);
the time until it returns, with frames still in the page cache, is printed too. The ratio line
uses the fastest of each (fairer on a shared, loaded machine), and the load average is printed
with it.
After the rounds, one more phase runs synthesis with frames that cost nothing to render (load and
align each face, the warp setup, encode and write its frames, the crop standing in for every
rendered frame): its ratio to the floor is the lowest that faster rendering alone can bring
synthesis to on this machine, before synthesis' own start, probe and plan steps.
The landmark cache and the warp table cache are warmed first (as for a face pool used before, on
a machine that ran miex before); the seconds that took are printed on their own line.

    python benchmarks/synth.py                 # full scale (about 2 GB of disk for the outputs)
    python benchmarks/synth.py --ids 50 --repeats 1   # smoke run
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from common import cpu_seconds, load, scratch
from miex.au.pool import write_pool
from miex.au.space import AU_NAMES, LABEL_NAMES
from miex.au.sources import Clip, MaESource, MiESource
from miex.faces import BuiltinFacePool, builtin_face_paths
from miex.seeding import rng
from miex.synth.config import SynthConfig
from miex.synth.plan import sample_dir
from miex.parallel import single_threaded
from miex.synth.render import SampleTask, encode_jpeg, write_sample
from miex.synth.runner import run_synth
from miex.io import atomic_dir, write_new_file


def celeba_style(rgb: np.ndarray) -> np.ndarray:
    """A 178x218 ``img_align_celeba``-style crop: eyes level, midpoint at (89, 111), 45 px apart."""
    from miex.faces import detect_face, eye_centres

    face = detect_face(rgb)
    to_source = cv2.invertAffineTransform(face.transform)
    left, right = (to_source[:, :2] @ eye + to_source[:, 2] for eye in eye_centres(face.landmarks))
    scale = 45.0 / np.linalg.norm(right - left)
    angle = np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0]))
    matrix = cv2.getRotationMatrix2D(tuple(map(float, (left + right) / 2)), angle, scale)
    matrix[:, 2] += np.array([89.0, 111.0]) - (left + right) / 2
    return cv2.warpAffine(rgb, matrix, (178, 218), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def replicate_faces(folder: Path, n_ids: int) -> None:
    """``n_ids`` CelebA-style JPEGs: the built-in photos and their mirrors, copied round-robin."""
    from miex.faces import load_image

    crops = []
    for path in builtin_face_paths():
        crop = celeba_style(load_image(path))
        crops += [crop, np.ascontiguousarray(crop[:, ::-1])]
    encoded = [encode_jpeg(crop, 95) for crop in crops]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_ids):
        (folder / f"{i + 1:06d}.jpg").write_bytes(encoded[i % len(encoded)])


def au_clip(dataset: str, subject: str, name: str, label: int, generator: np.random.Generator) -> Clip:
    n = int(generator.integers(8, 30))
    target = np.zeros(len(AU_NAMES))
    active = generator.choice(len(AU_NAMES) - 1, size=3, replace=False)
    target[active] = generator.uniform(0.05, 0.5, size=3)
    aus = pd.DataFrame(np.linspace(0, 1, n)[:, None] * target[None, :], columns=list(AU_NAMES))
    aus.insert(0, "frame", np.arange(1, n + 1))
    return Clip(clip=name, subject=subject, label=label, aus=aus, dataset=dataset, onset=1, apex=n)


def make_pools(folder: Path, per_class: int) -> tuple[Path, Path]:
    generator = rng(0, "benchmark-clips")
    clips = [au_clip("casme2", f"sub{s:02d}", f"EP{s:02d}_{k}", k % 3, generator) for s in range(1, 25) for k in range(6)]
    mie = MiESource(clips, reuse=5).sample(per_class, rng(0, "mie"))
    mae = MaESource(clips).sample(per_class, rng(0, "mae"))
    write_pool(mie, folder / "mie.parquet")
    write_pool(mae, folder / "mae.parquet")
    return folder / "mae.parquet", folder / "mie.parquet"


def _write_floor_chunk(args: tuple[str, list[int], list[np.ndarray], int]) -> int:
    out, indices, frames, quality = args
    for k in indices:
        with atomic_dir(Path(out) / f"s{k:06d}") as tmp:
            for j in range(2):
                write_new_file(tmp / f"{j}.jpg", encode_jpeg(frames[(k + j) % len(frames)], quality))
    return len(indices) * 2


def floor_job(out: Path, n_samples: int, workers: int, quality: int):
    """The floor as a job for :func:`timed`: JPEG-encode and write 2 x n_samples frames of
    128 px crops, rendering nothing."""
    pool = BuiltinFacePool(size=128)
    frames = [pool.load(face_id).image for face_id in pool.ids]  # real 128 px crops, as synth writes
    chunks = [list(range(i, min(i + 500, n_samples))) for i in range(0, n_samples, 500)]

    def run() -> None:
        with ProcessPoolExecutor(workers) as executor:
            total = sum(executor.map(_write_floor_chunk, [(str(out), c, frames, quality) for c in chunks]))
        assert total == 2 * n_samples

    return run


_UNRENDERED: dict = {}


def _write_unrendered_chunk(args: tuple[str, str, list[str], int]) -> int:
    """Synthesis with frames that cost nothing to render: per identity, what ``miex synth`` does
    around rendering (load and align the face, the warp setup, JPEG-encode its 10 distinct
    frames, write its 9 sample folders), with the aligned crop standing in for every frame."""
    faces, out, face_ids, quality = args
    if "pool" not in _UNRENDERED:
        from miex.generators.warp import WarpGenerator
        from miex.synth.facepool import open_face_pool

        _UNRENDERED.update(pool=open_face_pool(faces, size=128), generator=WarpGenerator())
    pool, generator = _UNRENDERED["pool"], _UNRENDERED["generator"]
    frames = 0
    for face_id in face_ids:
        prepared = generator.prepare(pool.load(face_id))
        jpegs = [encode_jpeg(prepared.image, quality) for _ in range(10)]  # the onset and 9 apexes
        for k, (label, source) in enumerate(itertools.product(LABEL_NAMES, ("expert", "mae", "mie"))):
            write_sample(Path(out), SampleTask(dir=sample_dir(face_id, source, label), trajectory=None), [jpegs[0], jpegs[1 + k]], None, None)
            frames += 2
    return frames


def unrendered_job(faces: Path, out: Path, n_ids: int, workers: int, quality: int):
    """Synthesis minus rendering (:func:`_write_unrendered_chunk`) as a job for :func:`timed`:
    what faster rendering cannot remove, without synthesis' start, probe and plan steps."""
    from miex.synth.facepool import open_face_pool

    face_ids = open_face_pool(str(faces), size=128).ids[:n_ids]  # the pool the workers open
    chunks = [face_ids[i : i + 50] for i in range(0, len(face_ids), 50)]

    def run() -> None:
        out.mkdir(parents=True, exist_ok=True)
        # spawned, as synthesis' workers are (a forked child that sets OpenCV's thread count hangs)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as executor:
            tasks = [(str(faces), str(out), chunk, quality) for chunk in chunks]
            total = sum(executor.map(single_threaded, [_write_unrendered_chunk] * len(tasks), tasks))
        assert total == 18 * len(face_ids)

    return run


def timed(job) -> tuple[float, float, float, float, object]:
    """``(seconds until job() returns, seconds until its files are on disk, user CPU seconds,
    system CPU seconds, its result)``.

    The second figure adds one ``sync``: the job's own write-back. Without it, a short job
    (the floor) leaves most of its frames in the page cache while a longer one (synthesis)
    already pays the kernel's background write-back of its early frames; with it, each phase
    pays for exactly its own writes. The CPU seconds split the work into Python/NumPy/OpenCV
    (user) and the kernel's file-system work (system), which on this VM varies several-fold
    from run to run for the same files."""
    user0, system0 = cpu_seconds()
    started = time.perf_counter()
    result = job()
    returned = time.perf_counter() - started
    os.sync()
    on_disk = time.perf_counter() - started
    user1, system1 = cpu_seconds()
    return returned, on_disk, user1 - user0, system1 - system0, result


def warm_landmark_cache(faces: Path, n_distinct: int) -> float:
    """Detect the distinct photos once (the cache is keyed by content), as a pool that was
    used before is; returns the seconds. Synthesis is then timed with a warm cache."""
    from miex.faces import FacePool

    started = time.perf_counter()
    pool = FacePool(faces, size=128)
    for face_id in pool.ids[:n_distinct]:
        pool.check(face_id)
    return time.perf_counter() - started


def warm_warp_table() -> float:
    """Build the warp generator's template table into the disk cache (once per machine, as
    after any earlier miex run); returns the seconds."""
    from miex.generators.warp import template_table

    started = time.perf_counter()
    template_table()
    return time.perf_counter() - started


def settle() -> None:
    """Flush dirty pages and finish the file system's delete work before a timed phase.

    Otherwise one phase pays for the last one: the write-back of ~1 GB of frames, and the
    journal and discard work of deleting the previous output, both run in the kernel during
    whatever is timed next (measured here: the same floor took 16 s or 28 s depending on it)."""
    os.sync()
    time.sleep(1.0)
    os.sync()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=2,
                        help="rounds of (floor, synth); the ratio uses the fastest of each (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the output folder")
    args = parser.parse_args()
    with scratch("miex-bench-synth-", args.keep) as work:
        faces = work / "faces"
        replicate_faces(faces, args.ids)
        detect = warm_landmark_cache(faces, 2 * len(builtin_face_paths()))
        table = warm_warp_table()
        mae_pool, mie_pool = make_pools(work, per_class=max(args.ids, 10))
        print(f"machine: {os.cpu_count()} cores; workers {args.workers}; {load()}")
        print(f"face detection of the {2 * len(builtin_face_paths())} distinct photos (once per pool, cached): {detect:.1f} s; "
              f"warp template table (once per machine, cached): {table:.1f} s")
        floors, totals = [], []  # (returned, on disk) seconds
        for round_ in range(max(args.repeats, 1)):
            floor_dir = work / f"floor{round_}"
            config = SynthConfig(
                faces=str(faces), out=str(work / f"mie-x{round_}"), ids=args.ids, sources=("expert", "mae", "mie"),
                mae_pool=str(mae_pool), mie_pool=str(mie_pool), workers=args.workers,
            )
            job = floor_job(floor_dir, args.ids * 9, args.workers, config.jpeg_quality)
            settle()
            floors.append(timed(job)[:4])
            shutil.rmtree(floor_dir, ignore_errors=True)
            settle()
            *seconds, report = timed(lambda: run_synth(config, progress=sys.stderr.isatty()))
            totals.append(tuple(seconds))
            if round_ + 1 < args.repeats:
                shutil.rmtree(config.out, ignore_errors=True)
                settle()
            (f0, f1, fu, fs), (s0, s1, su, ss) = floors[-1], totals[-1]
            print(f"round {round_ + 1}: floor {f0:.1f} s ({f1:.1f} s on disk; CPU user {fu:.1f} s, system {fs:.1f} s), "
                  f"synth {s0:.1f} s ({s1:.1f} s on disk; CPU user {su:.1f} s, system {ss:.1f} s), "
                  f"ratio {s1 / f1:.2f} ({s0 / f0:.2f} before write-back, {su / fu:.2f} in user CPU); steps: "
                  + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in getattr(report, "stages", {}).items())
                  + f"; {load()}")
        settle()
        unrendered = timed(unrendered_job(faces, work / "unrendered", args.ids, args.workers, config.jpeg_quality))
        floor = min(f[1] for f in floors)
        total = min(t[1] for t in totals)
        floor_cached, total_cached = min(f[0] for f in floors), min(t[0] for t in totals)
        print(f"samples {report.samples}, frames {report.frames} at {config.size} px")
        print(f"miex synth wall time to disk (all steps, landmark cache warm): {total:.1f} s = {report.frames / total:.0f} frames/s "
              f"({total_cached:.1f} s until it returns)")
        print(f"encode-and-write floor to disk: {floor:.1f} s = {report.frames / floor:.0f} frames/s ({floor_cached:.1f} s until it returns)")
        print(f"ratio before write-back (frames still in the page cache): {total_cached / floor_cached:.2f}")
        print(f"ratio of user CPU seconds (the computation, without the kernel's file-system work): "
              f"{min(t[2] for t in totals) / min(f[2] for f in floors):.2f}")
        print(f"without rendering (load, align, warp setup, encode and write; frames that cost nothing to render): "
              f"{unrendered[1]:.1f} s on disk ({unrendered[0]:.1f} s until it returns; CPU user {unrendered[2]:.1f} s, "
              f"system {unrendered[3]:.1f} s), ratio to the floor {unrendered[1] / floor:.2f}: the lowest that faster rendering "
              f"alone can reach here, before synthesis' own start, probe and plan steps")
        print(f"ratio synth / floor: {total / floor:.2f} (to disk, fastest of {len(totals)} rounds each; goal <= 1.5); {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
