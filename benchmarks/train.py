"""Training benchmarks (issue 6, section 8).

1. Data pipeline vs training step, same batch size:
   - Branches at 112 px: decode (two JPEG frames) + the MiE-X augmentation + collation, through
     the DataLoader, vs one Adam step (forward, backward, clip) of Branches (full ResNet-18 width).
   - STSTNet: reading cached 28x28 flow features (from disk per sample, and from the in-memory
     table a run uses) vs one STSTNet step; plus TV-L1 feature computation for reference.
   Goal: pipeline >= 5x the step throughput.
2. Wall time of a full STSTNet LOSO (68 folds, configs/megc2019_loso_ststnet.toml with one repeat)
   on the 442-clip MEGC2019 fixture (``miex.testing.write_megc_composite_fixture`` with 128 px frames
   rendered by the warp generator): first run (TV-L1 features computed) and a second run with the
   features cached. Goal: <= 3 minutes with cached features.

    python benchmarks/train.py                    # everything
    python benchmarks/train.py --skip-loso        # part 1 only
    python benchmarks/train.py --epochs 40        # LOSO with another epoch count
    python benchmarks/train.py --parallel-folds 1 # one fold at a time (2 torch threads)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def build_fixture(root: Path, size: int) -> dict[str, str]:
    from miex.testing import warp_frames, write_megc_composite_fixture

    started = time.perf_counter()
    roots = write_megc_composite_fixture(root, frame_source=warp_frames(size), n_frames=3)
    print(f"fixture: 442 clips x 3 frames at {size} px written in {time.perf_counter() - started:.1f} s")
    return {k: str(v) for k, v in roots.items()}


def load_samples(roots: dict[str, str]):
    from miex.datasets import Megc2019Composite

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = Megc2019Composite(roots["casme2"], roots["samm"], roots["smic"])
    assert len(ds.samples) == 442, len(ds.samples)
    return ds.samples


def step_throughput(model, spec, batch: int, steps: int = 6) -> float:
    """Training samples per second of Adam steps (forward, cross-entropy, backward, clip, step)."""
    x = torch.randn(*spec.shape(batch))
    y = torch.randint(0, 3, (batch,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=5e-4)
    model.train()

    def one() -> None:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    one()
    one()
    started = time.perf_counter()
    for _ in range(steps):
        one()
    return batch * steps / (time.perf_counter() - started)


def loader_throughput(dataset, batch: int, epochs: int = 1) -> float:
    from miex.train.data import make_loader

    n = 0
    started = time.perf_counter()
    for epoch in range(epochs):
        for x, _, _ in make_loader(dataset, batch_size=batch, train=True, seed=0, epoch=epoch):
            n += len(x)
    return n / (time.perf_counter() - started)


def pipeline_vs_step(samples, cache: Path) -> None:
    from miex.models import create
    from miex.train.data import SampleDataset

    print(f"\n== 1. data pipeline vs training step (torch threads: {torch.get_num_threads()}, pipeline: 1 process)")
    batch = 32
    branches = create("branches", image_size=112, seed=0)
    ds = SampleDataset(samples, branches.input_spec, train=True, seed=0, stream="bench")
    pipe = loader_throughput(ds, batch)
    step = step_throughput(branches, branches.input_spec, batch)
    print(f"Branches 112 px (ResNet-18 x2, width 64), batch {batch}: decode+augment+collate {pipe:7.0f} samples/s; "
          f"train step {step:6.1f} samples/s; ratio {pipe / step:5.1f}x")

    batch = 64
    ststnet = create("ststnet", seed=0)
    spec = ststnet.input_spec
    for method in ("tvl1",):
        sub = samples.iloc[:40]
        feat = SampleDataset(sub, spec, feature_cache=cache, flow_method=method)
        started = time.perf_counter()
        feat.prepare()
        rate = len(sub) / (time.perf_counter() - started)
        print(f"flow features ({method}, 128 px frames, 1 process): {rate:6.1f} samples/s computed (first run only)")
    ds = SampleDataset(samples, spec, feature_cache=cache, flow_method="tvl1")
    ds.prepare(workers=2)
    disk = SampleDataset(samples, spec, feature_cache=cache, flow_method="tvl1")  # per-sample cache reads
    started = time.perf_counter()
    for i in range(len(disk)):
        disk.load(i)
    disk_rate = len(disk) / (time.perf_counter() - started)
    mem = loader_throughput(ds, batch, epochs=3)
    step = step_throughput(ststnet, spec, batch, steps=30)
    print(f"STSTNet, batch {batch}: cached features from disk {disk_rate:7.0f} samples/s ({disk_rate / step:4.1f}x); "
          f"in-memory loader {mem:7.0f} samples/s; train step {step:6.0f} samples/s; ratio {mem / step:5.1f}x")


def loso(roots: dict[str, str], cache: Path, out: Path, epochs: int | None, parallel: int) -> None:
    from miex.train.experiment import load_config
    from miex.train.runner import run_experiment

    overrides = [f'data.roots.{k}="{v}"' for k, v in roots.items()]
    overrides += [f'data.feature_cache="{cache}"', "protocol.repeats=1", "train.workers=2"]
    if epochs is not None:
        overrides.append(f"train.epochs={epochs}")
    if parallel > 1:
        overrides += [f"train.parallel_folds={parallel}", "train.threads=1"]
    config = load_config(ROOT / "configs" / "megc2019_loso_ststnet.toml", overrides)
    n_epochs = config.train["epochs"] + config.train["decay_epochs"]
    how = (f"{parallel} folds at a time, 1 torch thread each" if parallel > 1
           else f"one fold at a time, {torch.get_num_threads()} torch threads")
    print(f"\n== 2. STSTNet LOSO, 68 folds x {n_epochs} epochs, batch {config.train['batch_size']}, "
          f"TV-L1 features, {how}")
    times = []
    for label in ("first run (features computed)", "second run (features cached)"):
        started = time.perf_counter()
        summary = run_experiment(config, out / f"run{len(times)}", quiet=True)[0]
        times.append(time.perf_counter() - started)
        pred = summary.predictions
        last = pred[pred["selection"] == "last"]
        from miex.train.engine import scores

        m = scores(last["label"].to_numpy(), last["pred"].to_numpy())
        print(f"{label}: {times[-1]:6.1f} s wall ({times[-1] / 60:.2f} min); {pred['fold'].nunique()} folds; "
              f"last-epoch UF1 {m['uf1']:.3f} UAR {m['uar']:.3f}")
    goal = "met" if times[1] <= 180 else "NOT met"
    print(f"goal <= 3 min with cached features: {goal}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-loso", action="store_true")
    parser.add_argument("--epochs", type=int, default=None, help="LOSO epochs (default: the config's)")
    parser.add_argument("--size", type=int, default=128, help="fixture frame size")
    parser.add_argument("--parallel-folds", type=int, default=2,
                        help="folds trained side by side (default 2 = the cores here; 1: sequential)")
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temp folder)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU(s)")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("MIEX_CACHE_DIR", str(work / "cache"))
        roots = build_fixture(work / "fixture", args.size)
        samples = load_samples(roots)
        cache = work / "features"
        pipeline_vs_step(samples, cache)
        if not args.skip_loso:
            loso(roots, work / "features-loso", work / "runs", args.epochs, args.parallel_folds)
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
