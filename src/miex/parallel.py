"""Independent tasks in this process, in local worker processes or on a Ray cluster.

:func:`run_tasks` calls ``fn(task)`` for every task and yields ``(position, result)`` as the
results complete, with the user-facing convention of ``miex synth``: ``--workers N`` local
processes (spawned, so every worker starts clean), ``--ray [ADDRESS]`` a Ray cluster (``pip
install 'miex[ray]'``; no address starts a local one with ``workers`` CPUs). Every task runs
with OpenCV and BLAS on one thread (:func:`single_threaded`): each worker owns a core, and
the results must have the same bits in every process. For multi-node clusters the inputs and
the output folder must be on storage that every node sees.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator, Sequence

from miex.errors import MiexError

#: ``--ray`` without an address.
LOCAL_RAY = "local"


def add_parallel_options(parser, what: str, prefix: str = "") -> None:
    """``--workers N`` and ``--ray [ADDRESS]`` on an argparse parser, worded for ``what``
    (for example "clips"); ``--ray`` alone gives :data:`LOCAL_RAY`."""
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help=f"{prefix}{what} in N local worker processes (default 1)")
    parser.add_argument("--ray", nargs="?", const=LOCAL_RAY, default=None, metavar="ADDRESS",
                        help=f"{prefix}{what} on a Ray cluster (pip install 'miex[ray]'); no ADDRESS starts a local one")


def check_workers(workers: object) -> int:
    """``workers`` as a positive int, or :class:`MiexError` naming the bad value."""
    try:
        n = int(workers)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise MiexError(f"--workers must be a whole number >= 1, got {workers!r}") from None
    if n < 1 or str(n) != str(workers).strip():
        raise MiexError(f"--workers must be a whole number >= 1, got {workers!r}")
    return n


def single_threaded(fn: Callable[[Any], Any], task: Any) -> Any:
    """``fn(task)`` with OpenCV and BLAS/LAPACK on one thread (restored afterwards)."""
    import cv2

    from miex.au.basis import single_threaded_blas

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with single_threaded_blas():
            return fn(task)
    finally:
        cv2.setNumThreads(threads)


def start_ray(workers: int, address: str | None):
    """``(ray, started)``: the Ray module, connected to ``address`` (None or ``"local"``: a
    local cluster with ``workers`` CPUs) unless already initialised; ``started`` says whether
    this call started it (and the caller must shut it down)."""
    try:
        import ray
    except ImportError:
        raise MiexError("--ray needs Ray: pip install 'miex[ray]'") from None
    started = not ray.is_initialized()
    if started:
        if address and address != LOCAL_RAY:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(workers, 1), include_dashboard=False, log_to_driver=False)
    return ray, started


class Workers:
    """Where tasks run, kept up across several batches: this process (``workers`` 1), that many
    spawned processes, or a Ray cluster (``ray``: ``"local"`` or an address). Spawned workers
    start once and serve every :meth:`run` until :meth:`close`; Ray is connected on first use,
    so a run that stops on bad input before its first task starts no cluster."""

    def __init__(self, workers: int = 1, ray: str | None = None) -> None:
        self.workers = check_workers(workers)
        self.address = ray
        self.pool: ProcessPoolExecutor | None = None
        self.ray = None  # the Ray module once connected (:meth:`_cluster`)
        self.ray_started = False
        if ray is None and self.workers > 1:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def _cluster(self):
        if self.ray is None:
            self.ray, self.ray_started = start_ray(self.workers, self.address)
        return self.ray

    @property
    def size(self) -> int:
        """How many tasks run at once (the cluster's CPUs on Ray)."""
        if self.address is not None:
            return max(int(self._cluster().cluster_resources().get("CPU", self.workers)), 1)
        return self.workers

    def prime(self, fn: Callable[[], Any]) -> None:
        """Start ``fn()`` on the local worker processes without waiting, once per worker
        (spawning them if needed): one-off start-up work that overlaps what this process does
        next. Workers that are still busy may leave it to the others, so ``fn`` must be a
        pure optimisation; its result and errors are dropped. Nothing happens in this process
        or on Ray, where the same work is done on first use."""
        if self.pool is not None:
            for _ in range(self.workers):
                self.pool.submit(single_threaded, _call, fn)

    def run(self, fn: Callable[[Any], Any], tasks: Sequence) -> Iterator[tuple[int, Any]]:
        """``(position in tasks, fn(task))`` for every task, as they complete, each with OpenCV
        and BLAS on one thread. ``fn`` must be picklable (a module-level function or a partial)."""
        if self.address is not None:
            return self._ray(fn, tasks)
        if self.pool is not None:
            return self._processes(fn, tasks)
        return ((i, single_threaded(fn, task)) for i, task in enumerate(tasks))

    def _processes(self, fn: Callable, tasks: Sequence) -> Iterator[tuple[int, Any]]:
        pending = {self.pool.submit(single_threaded, fn, task): i for i, task in enumerate(tasks)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=pending.__getitem__):
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()

    def _ray(self, fn: Callable, tasks: Sequence) -> Iterator[tuple[int, Any]]:
        ray = self._cluster()
        remote = ray.remote(single_threaded)
        fn_ref = ray.put(fn)
        pending = {remote.remote(fn_ref, task): i for i, task in enumerate(tasks)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            yield pending.pop(done[0]), ray.get(done[0])

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        if self.ray_started:
            self.ray.shutdown()
            self.ray_started = False

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _call(fn: Callable[[], Any]) -> Any:
    return fn()


def _run_and_close(fn: Callable, tasks: Sequence, workers: int, ray: str | None) -> Iterator[tuple[int, Any]]:
    with Workers(workers if ray is not None else min(workers, len(tasks)), ray) as pool:
        yield from pool.run(fn, tasks)


def run_tasks(
    fn: Callable[[Any], Any], tasks: Sequence, *, workers: int = 1, ray: str | None = None
) -> Iterator[tuple[int, Any]]:
    """``(position in tasks, fn(task))`` for every task, as they complete, on a :class:`Workers`
    pool made for these tasks. ``fn`` must be a module-level function (it is pickled to the
    workers). ``ray``: None (local), ``"local"`` or a cluster address."""
    workers = check_workers(workers)
    if not tasks:
        return iter(())
    return _run_and_close(fn, tasks, workers, ray)


def in_order(results: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    """:func:`run_tasks` output in task order: each result is released as soon as every
    earlier one is there."""
    held: dict[int, Any] = {}
    following = 0
    for position, result in results:
        held[position] = result
        while following in held:
            yield following, held.pop(following)
            following += 1


__all__ = ["LOCAL_RAY", "Workers", "add_parallel_options", "check_workers", "in_order", "run_tasks", "single_threaded", "start_ray"]
