"""miex.parallel: local worker pools, and the start-up work primed on them."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import pytest

from miex.parallel import Workers, in_order


def _square(x: int) -> int:
    return x * x


def _write_pid(folder: str) -> None:
    Path(folder, f"{os.getpid()}.pid").touch()


def _fail() -> None:
    raise RuntimeError("primed work failed")


def test_primed_work_runs_in_the_workers_ahead_of_tasks(tmp_path):
    with Workers(2) as pool:
        pool.prime(partial(_write_pid, str(tmp_path)))
        results = list(in_order(pool.run(_square, [1, 2, 3, 4])))
    assert results == [(0, 1), (1, 4), (2, 9), (3, 16)]
    pids = {int(p.stem) for p in tmp_path.glob("*.pid")}
    assert pids and os.getpid() not in pids


def test_primed_errors_are_dropped_and_nothing_is_primed_in_process(tmp_path):
    with Workers(2) as pool:
        pool.prime(_fail)
        assert dict(pool.run(_square, [5])) == {0: 25}
    with Workers(1) as pool:
        pool.prime(partial(_write_pid, str(tmp_path)))
        assert dict(pool.run(_square, [6])) == {0: 36}
    assert not list(tmp_path.glob("*.pid"))


def test_ray_is_connected_on_first_use_only():
    ray = pytest.importorskip("ray")
    with Workers(2, "local") as pool:
        pool.prime(_fail)
        assert not ray.is_initialized()  # a run stopped by bad input here starts no cluster
    assert not ray.is_initialized()
