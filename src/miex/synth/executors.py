"""Where the work runs: in this process, in local worker processes, or on a Ray cluster.

All three expose ``probe(ids)`` (results in input order) and ``render(chunks)`` (results as they
complete). Ray shards the same chunks as remote tasks; for multi-node clusters the output folder
must be on storage that every node sees.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from functools import partial
from typing import Iterator, Sequence

from miex.parallel import single_threaded, start_ray
from miex.synth.render import ChunkResult, IdentityTask
from miex.synth.workers import probe_faces, render_chunk


def render_single_threaded(config: dict, chunk: Sequence[IdentityTask]) -> ChunkResult:
    """:func:`render_chunk` with OpenCV and BLAS/LAPACK on one thread (:func:`miex.parallel.single_threaded`).

    Each worker already owns a core; OpenCV's thread pool on top oversubscribes the machine
    (on the loaded 2-core machine a 64 x 64 ``cv2.remap`` took 121 us with 2 OpenCV threads and
    47 us with 1). One BLAS thread is a guard for the per-face spline solve of the warp, whose
    bits must not depend on the machine (OpenBLAS' parallel LU can round differently; the
    87-point solves gave the same bits with 1 and 2 threads here).
    """
    return single_threaded(partial(render_chunk, config), chunk)


def split(items: Sequence, parts: int) -> list[Sequence]:
    size = max(1, -(-len(items) // max(parts, 1)))
    return [items[i : i + size] for i in range(0, len(items), size)]


class InlineExecutor:
    """Runs everything in this process (``--workers 1``)."""

    def __init__(self, config: dict) -> None:
        self.config = config

    def probe(self, ids: Sequence[str]) -> list[tuple[str, str, str | None]]:
        return probe_faces(self.config, ids)

    def render(self, chunks: Sequence[Sequence[IdentityTask]]) -> Iterator[ChunkResult]:
        for chunk in chunks:
            yield render_single_threaded(self.config, chunk)

    def close(self) -> None:
        pass


class ProcessExecutor(InlineExecutor):
    """Local worker processes (``--workers N``)."""

    def __init__(self, config: dict, workers: int) -> None:
        super().__init__(config)
        self.workers = workers
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def probe(self, ids: Sequence[str]) -> list[tuple[str, str, str | None]]:
        parts = split(ids, self.workers * 4)
        results = self.pool.map(probe_faces, [self.config] * len(parts), parts)
        return [item for part in results for item in part]

    def render(self, chunks: Sequence[Sequence[IdentityTask]]) -> Iterator[ChunkResult]:
        pending = {self.pool.submit(render_single_threaded, self.config, chunk) for chunk in chunks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor(InlineExecutor):
    """Shards chunks over a Ray cluster (``--ray [ADDRESS]``; ``pip install miex[ray]``)."""

    def __init__(self, config: dict, workers: int, address: str | None) -> None:
        super().__init__(config)
        self.ray, self.started = start_ray(workers, address)
        self.workers = max(int(self.ray.cluster_resources().get("CPU", workers)), 1)
        self._probe = self.ray.remote(probe_faces)
        self._render = self.ray.remote(render_single_threaded)

    def probe(self, ids: Sequence[str]) -> list[tuple[str, str, str | None]]:
        parts = split(ids, self.workers * 4)
        results = self.ray.get([self._probe.remote(self.config, part) for part in parts])
        return [item for part in results for item in part]

    def render(self, chunks: Sequence[Sequence[IdentityTask]]) -> Iterator[ChunkResult]:
        config_ref = self.ray.put(self.config)
        pending = [self._render.remote(config_ref, chunk) for chunk in chunks]
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            yield self.ray.get(done[0])

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def make_executor(config: dict, workers: int, ray: bool, ray_address: str | None) -> InlineExecutor:
    if ray:
        return RayExecutor(config, workers, ray_address)
    if workers > 1:
        return ProcessExecutor(config, workers)
    return InlineExecutor(config)
