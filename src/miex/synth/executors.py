"""Where ``miex synth`` runs its work: in this process, in local worker processes, or on a Ray
cluster, through one :class:`miex.parallel.Workers` pool that serves both jobs.

``probe(ids)`` gives results in input order, ``render(chunks)`` as they complete. Every task runs
with OpenCV and BLAS/LAPACK on one thread (:func:`miex.parallel.single_threaded`): each worker
already owns a core, and OpenCV's thread pool on top oversubscribes the machine (on the loaded
2-core machine a 64 x 64 ``cv2.remap`` took 121 us with 2 OpenCV threads and 47 us with 1); one
BLAS thread keeps the per-face spline solve of the warp bit-identical on every machine (OpenBLAS'
parallel LU can round differently). For multi-node Ray clusters the output folder must be on
storage that every node sees.
"""

from __future__ import annotations

from functools import partial
from typing import Iterator, Sequence

from miex.parallel import LOCAL_RAY, Workers, in_order
from miex.synth.render import ChunkResult, IdentityTask
from miex.synth.workers import probe_faces, render_chunk, warm_up


def split(items: Sequence, parts: int) -> list[Sequence]:
    size = max(1, -(-len(items) // max(parts, 1)))
    return [items[i : i + size] for i in range(0, len(items), size)]


class SynthExecutor:
    """Probing and rendering for one ``miex synth`` run; the workers start once for both."""

    def __init__(self, config: dict, workers: int, ray: str | None = None) -> None:
        self.config = config
        self.pool = Workers(workers, ray)

    @property
    def workers(self) -> int:
        return self.pool.size

    def warm_up(self, generator: bool = False) -> None:
        """Let the local workers build their face pool (and with ``generator`` their generator)
        while this process goes on; see :meth:`miex.parallel.Workers.prime`."""
        self.pool.prime(partial(warm_up, self.config, generator))

    def probe(self, ids: Sequence[str]) -> list[tuple[str, str, str | None]]:
        parts = split(ids, self.workers * 4) if self.workers > 1 else [ids]
        results = in_order(self.pool.run(partial(probe_faces, self.config), parts))
        return [item for _, part in results for item in part]

    def render(self, chunks: Sequence[Sequence[IdentityTask]]) -> Iterator[ChunkResult]:
        for _, result in self.pool.run(partial(render_chunk, self.config), chunks):
            yield result

    def close(self) -> None:
        self.pool.close()


def make_executor(config: dict, workers: int, ray: bool, ray_address: str | None) -> SynthExecutor:
    return SynthExecutor(config, workers, (ray_address or LOCAL_RAY) if ray else None)
