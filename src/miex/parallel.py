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


def _inline(fn: Callable, tasks: Sequence) -> Iterator[tuple[int, Any]]:
    for i, task in enumerate(tasks):
        yield i, single_threaded(fn, task)


def _processes(fn: Callable, tasks: Sequence, workers: int) -> Iterator[tuple[int, Any]]:
    with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = {pool.submit(single_threaded, fn, task): i for i, task in enumerate(tasks)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=pending.__getitem__):
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()


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


def _ray(fn: Callable, tasks: Sequence, workers: int, address: str | None) -> Iterator[tuple[int, Any]]:
    ray, started = start_ray(workers, address)
    try:
        remote = ray.remote(single_threaded)
        fn_ref = ray.put(fn)
        pending = {remote.remote(fn_ref, task): i for i, task in enumerate(tasks)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            yield pending.pop(done[0]), ray.get(done[0])
    finally:
        if started:
            ray.shutdown()


def run_tasks(
    fn: Callable[[Any], Any], tasks: Sequence, *, workers: int = 1, ray: str | None = None
) -> Iterator[tuple[int, Any]]:
    """``(position in tasks, fn(task))`` for every task, as they complete. ``fn`` must be a
    module-level function (it is pickled to the workers). ``ray``: None (local), ``"local"``
    or a cluster address."""
    workers = check_workers(workers)
    if not tasks:
        return iter(())
    if ray is not None:
        return _ray(fn, tasks, workers, ray)
    if workers > 1:
        return _processes(fn, tasks, workers)
    return _inline(fn, tasks)


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


__all__ = ["LOCAL_RAY", "add_parallel_options", "check_workers", "in_order", "run_tasks", "single_threaded", "start_ray"]
