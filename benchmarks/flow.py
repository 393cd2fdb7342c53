"""Benchmark: TV-L1 flow features for the 442-clip MEGC2019 composite (issue 15, part 3).

Builds the 442-clip composite fixture (``miex.testing.write_megc_composite_fixture``, 128 px frames
rendered by the warp generator from real photos), then computes the STSTNet inputs (onset->apex
TV-L1 flow, strain, 28 x 28, the ``miex train`` path: ``SampleDataset.prepare``) into a fresh
feature cache with ``--workers`` processes, and reads them back from the warm cache.
Also times one TV-L1 pair in this process, for the per-sample figure.

    python benchmarks/flow.py                  # 2 workers
    python benchmarks/flow.py --workers 1

Prints ``flow features 442 clips: X s`` (goal <= 120 s on 2 cores) and the machine's load.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from common import load


def build_samples(root: Path, size: int):
    from miex.datasets import Megc2019Composite
    from miex.testing import warp_frames, write_megc_composite_fixture

    roots = write_megc_composite_fixture(root, frame_source=warp_frames(size), n_frames=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = Megc2019Composite(roots["casme2"], roots["samm"], roots["smic"])
    assert len(ds.samples) == 442, len(ds.samples)
    return ds.samples


def one_pair_seconds(samples, repeats: int = 5) -> float:
    """Fastest of ``repeats`` TV-L1 computations on the first clip's onset/apex pair."""
    from miex.features import optical_flow
    from miex.preprocess import FrameReader

    onset, apex = FrameReader().pair(samples.iloc[0])
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        optical_flow(onset, apex, method="tvl1")
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--size", type=int, default=128, help="frame size of the fixture (px)")
    args = parser.parse_args()
    from miex.models import create
    from miex.train.data import SampleDataset

    with tempfile.TemporaryDirectory(prefix="miex-bench-flow-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        samples = build_samples(work / "data", args.size)
        print(f"machine: {os.cpu_count()} cores; fixture: 442 clips x 3 frames at {args.size} px "
              f"in {time.perf_counter() - started:.1f} s; {load()}")
        spec = create("ststnet", seed=0).input_spec
        pair = one_pair_seconds(samples)
        print(f"one TV-L1 pair ({args.size} px, skimage): {pair * 1e3:.0f} ms (fastest of 5) "
              f"= {1 / pair:.1f} pairs/s per process; {load()}")
        cache = work / "features"
        started = time.perf_counter()
        cached, computed = SampleDataset(samples, spec, feature_cache=cache, flow_method="tvl1").prepare(
            workers=args.workers)
        cold = time.perf_counter() - started
        assert (cached, computed) == (0, 442), (cached, computed)
        started = time.perf_counter()
        cached, computed = SampleDataset(samples, spec, feature_cache=cache, flow_method="tvl1").prepare()
        warm = time.perf_counter() - started
        assert (cached, computed) == (442, 0), (cached, computed)
        print(f"flow features 442 clips: {cold:.1f} s computed with {args.workers} worker(s) "
              f"(= {442 / cold:.1f} clips/s; goal <= 120 s); from the warm cache {warm:.1f} s; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
