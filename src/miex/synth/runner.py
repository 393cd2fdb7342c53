"""``miex synth``: the MiE-X protocol end to end.

Steps: check the output folder against an earlier run, choose identities, plan every sample,
render the missing ones (resumable, atomic), then write the manifest, lists and dataset card.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from miex.errors import MiexError, SkipLog
from miex.io import write_json, write_parquet
from miex.synth.card import profile_data_uri, write_card
from miex.synth.config import SynthConfig, check_existing, check_generator
from miex.synth.executors import make_executor, split
from miex.synth.identities import Identity, select_identities
from miex.synth.lists import read_fold_file, write_lists
from miex.synth.plan import build_plan
from miex.synth.render import IdentityTask, SampleTask

SAMPLE_DIR = re.compile(r".+_(expert|mae|mie)_[012]$")
OUTPUT_FILES = ("config.json", "manifest.parquet", "card.html")


@dataclass
class SynthReport:
    out: Path
    samples: int
    frames: int
    rendered_samples: int
    rendered_frames: int
    seconds: float
    skips: SkipLog = field(default_factory=SkipLog)
    #: wall seconds per step (start, probe, plan, render, manifest, card), for benchmarks
    stages: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        rate = self.rendered_frames / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"{self.samples} samples ({self.frames} frames) in {self.out}",
            f"rendered {self.rendered_samples} samples, {self.rendered_frames} frames in {self.seconds:.1f} s "
            f"({rate:.0f} frames/s); {self.samples - self.rendered_samples} were already done",
            f"faces: {self.skips.summary()}",
        ]
        return "\n".join(lines)


def run_synth(config: SynthConfig, *, progress: bool = True) -> SynthReport:
    out = Path(config.out)
    clock = StageClock()
    folds = read_fold_file(config.fold_file) if config.fold_file else None
    check_generator(config)  # a bad weights file fails here, before the output folder exists
    skips = SkipLog()
    executor = make_executor(config.to_dict(), config.workers, config.ray, config.ray_address)
    try:
        executor.warm_up()  # the workers start and open the face pool while this process reads
        pools = load_pools(config)  # read every input before touching the output folder
        prepare_output(out, config)
        clock.lap("start")
        pool_ids = list_face_ids(config)
        identities = select_identities(
            pool_ids, config.ids, config.seed, executor.probe, allow_reuse=config.allow_reuse, skips=skips
        )
        clock.lap("probe")
        executor.warm_up(generator=True)  # the workers build their generator while this process plans
        manifest, trajectories = build_plan(config, identities, pools, expert_drawer(config))
        write_json(out / "config.json", config.to_dict())
        chunks = pending_chunks(out, manifest, trajectories, identities, config.workers)
        clock.lap("plan")
        with ThreadPoolExecutor(1) as background:  # the card's AU profile, drawn meanwhile
            profile = background.submit(profile_data_uri, manifest, out)
            rendered_samples, rendered_frames, failed = render_all(executor, chunks, progress)
            seconds = clock.lap("render")
    finally:
        executor.close()
        clock.lap("stop")
    if failed:
        listed = "; ".join(f"{face}: {reason}" for face, reason in failed[:3])
        raise MiexError(f"{len(failed)} face(s) failed while rendering ({listed}); re-run the same command to retry")
    write_parquet(out / "manifest.parquet", manifest)
    write_lists(out, manifest, folds)
    clock.lap("manifest")
    write_card(out, manifest, config, profile.result())
    clock.lap("card")
    return SynthReport(
        out=out,
        samples=len(manifest),
        frames=int(manifest["n_frames"].sum()),
        rendered_samples=rendered_samples,
        rendered_frames=rendered_frames,
        seconds=seconds,
        skips=skips,
        stages=clock.laps,
    )


class StageClock:
    """Wall seconds between successive :meth:`lap` calls, by step name."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, name: str) -> float:
        now = time.perf_counter()
        seconds = now - self.last
        self.laps[name] = self.laps.get(name, 0.0) + seconds
        self.last = now
        return seconds


def prepare_output(out: Path, config: SynthConfig) -> None:
    """Create ``out``; refuse a different earlier config; clear it on ``overwrite``; drop stale temp files."""
    if out.exists() and not out.is_dir():
        raise MiexError(f"{out} exists and is not a folder")
    if config.overwrite and out.exists():
        clear_output(out)
    else:
        check_existing(out, config)
    out.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(out):
        if entry.name.startswith(".") and ".tmp" in entry.name:
            shutil.rmtree(entry.path) if entry.is_dir() else os.unlink(entry.path)


def clear_output(out: Path) -> None:
    """Remove what an earlier ``miex synth`` wrote, and nothing else."""
    for entry in os.scandir(out):
        if entry.is_dir() and SAMPLE_DIR.match(entry.name):
            shutil.rmtree(entry.path)
    for name in OUTPUT_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "lists", ignore_errors=True)


def load_pools(config: SynthConfig) -> dict[str, pd.DataFrame]:
    from miex.au.pool import read_pool

    pools: dict[str, pd.DataFrame] = {}
    for source in config.sources:
        if source == "expert":
            continue
        path = getattr(config, f"{source}_pool")
        pool = read_pool(path)
        pool = pool[pool["source"] == source]
        if pool.empty:
            raise MiexError(f"{path}: holds no {source} rows (made with `miex aus sample --source {source}`?)")
        pools[source] = pool.reset_index(drop=True)
    return pools


def expert_drawer(config: SynthConfig):
    """``draw(label, rng) -> (emotion, apex)`` for the expert source with this run's table and range."""
    from miex.au.sources import ExpertSource

    return ExpertSource(table=config.expert_table, mu=config.mu, nu=config.nu).draw_one


def list_face_ids(config: SynthConfig) -> list[str]:
    from miex.synth.facepool import open_face_pool

    return list(open_face_pool(config.faces, size=config.size).ids)


def pending_chunks(
    out: Path,
    manifest: pd.DataFrame,
    trajectories: list[np.ndarray],
    identities: list[Identity],
    workers: int,
) -> list[list[IdentityTask]]:
    """Group the samples not yet on disk by identity, then into chunks for the workers."""
    done = {entry.name for entry in os.scandir(out) if entry.is_dir()}
    tasks: dict[str, IdentityTask] = {}
    pool_id = {identity.face_id: identity.pool_id for identity in identities}
    for sample, face_id, trajectory in zip(manifest["dir"].tolist(), manifest["face_id"].tolist(), trajectories):
        if sample in done:
            continue
        task = tasks.setdefault(face_id, IdentityTask(pool_id=pool_id[face_id]))
        task.samples.append(SampleTask(dir=sample, trajectory=trajectory))
    ordered = list(tasks.values())
    per_chunk = max(1, min(16, len(ordered) // max(workers * 8, 1)))
    return [list(chunk) for chunk in split(ordered, max(1, -(-len(ordered) // per_chunk)))]


def render_all(executor, chunks, progress: bool) -> tuple[int, int, list[tuple[str, str]]]:
    total = sum(len(sample.trajectory) for chunk in chunks for task in chunk for sample in task.samples)
    samples = frames = 0
    failed: list[tuple[str, str]] = []
    with tqdm(total=total, unit="frame", desc="synth", disable=not progress, smoothing=0.1) as bar:
        for result in executor.render(chunks):
            samples += result.samples
            frames += result.frames
            failed.extend(result.failed)
            bar.update(result.frames)
    return samples, frames, failed
