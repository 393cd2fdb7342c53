"""Time per epoch of every miex model (issue 12): each model is trained once through ``miex train``
(``run_experiment``: datasets -> face/feature pipeline -> model -> predictions) on the zoo's
fixture of 640x480 recordings (12 clips, 4 subjects, 6 frames; tests/models/zoo.py), 2-fold.

For each model and size (``small``: the test options of tests/models/zoo.py; ``full``: the
model's defaults, i.e. the published input sizes and widths):

- ``first_run_s``: wall time of a first run (2 folds, 1 epoch each) that computes the features
  (flow, flow sequences, landmark regions, LBP-TOP, Bi-WOOF) into an empty feature cache;
  a warm-up run before the first model keeps one-time start-up costs (imports) out of it;
- ``epoch_s``: seconds of one epoch of one fold (training on the 6 clips of two subjects, then
  predicting the other 6), measured between the end of epoch 1 and the end of epoch 2 (features
  and model set-up excluded). Classical models fit once per fold: their figure is the time of a
  fold with cached features;
- ``ms_per_train_clip``: ``epoch_s`` / 6, a rough scale for real data (a MEGC2019 LOSO fold
  trains on about 435 clips).

torch runs on ``--threads`` threads (default 1). The numbers depend on the machine's load: note it
with the result (other processes on shared machines make every figure larger).

    python benchmarks/models.py                       # every model, small and full
    python benchmarks/models.py --sizes small --models htnet,lbp_top
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRAIN_CLIPS = 6


def config(recordings: dict[str, str], cache: Path, model: dict, epochs: int, threads: int):
    from miex.train.experiment import config_from_dict

    roots = {k: recordings[k] for k in ("casme2", "samm", "smic")}
    return config_from_dict({
        "experiment": {"name": f"bench_{model['name']}"},
        "data": {"dataset": "megc2019", "roots": roots, "options": {"list_path": recordings["list_path"]},
                 "feature_cache": str(cache), "flow_method": "farneback"},
        "model": model,
        "protocol": {"mode": "real", "cv": "kfold", "k": 2, "repeats": 1, "val_fraction": 0.0, "seed": 0},
        "train": {"schedule": "custom", "epochs": epochs, "batch_size": 8, "threads": threads},
    })


class EpochClock:
    """Records when each epoch of each job ended."""

    def __init__(self) -> None:
        self.ends: dict[str, list[float]] = {}

    def __call__(self, job, epoch, row) -> None:
        self.ends.setdefault(job.name, []).append(time.perf_counter())

    def epoch_seconds(self) -> float:
        deltas = [t[1] - t[0] for t in self.ends.values() if len(t) >= 2]
        return sum(deltas) / len(deltas) if deltas else float("nan")


def time_model(name: str, options: dict, recordings: dict[str, str], work: Path, threads: int) -> dict:
    from miex.models import is_classical
    from miex.train.runner import run_experiment

    cache = work / f"features-{name}-{len(options)}"
    model = {"name": name, **options}
    started = time.perf_counter()
    run_experiment(config(recordings, cache, model, 1, threads), work / f"{name}-first", quiet=True)
    first = time.perf_counter() - started
    clock = EpochClock()
    started = time.perf_counter()
    epochs = 1 if is_classical(name) else 2
    run_experiment(config(recordings, cache, model, epochs, threads), work / f"{name}-timed", quiet=True,
                   callbacks=[clock])
    cached = time.perf_counter() - started
    epoch = cached / 2 if is_classical(name) else clock.epoch_seconds()
    return {"first_run_s": first, "epoch_s": epoch,
            "ms_per_train_clip": 1000.0 * epoch / TRAIN_CLIPS}


def parameters(name: str, options: dict) -> str:
    from miex.models import create, is_classical

    model = create(name, **options)
    if is_classical(model):
        return f"{model.input_spec.shape(1)[1]} features"
    n = sum(p.numel() for p in model.parameters())
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n / 1e3:.1f} k"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated names (default: every registered model)")
    parser.add_argument("--sizes", default="small,full", help="small, full or both")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    from miex.models import list_models
    from tests.models.zoo import SMALL, write_recordings

    torch.set_num_threads(args.threads)
    names = [n for n in args.models.split(",") if n] or list_models()
    sizes = [s for s in args.sizes.split(",") if s]
    print(f"load average before: {os.getloadavg()}, torch threads {args.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["MIEX_CACHE_DIR"] = str(work / "miex-cache")
        started = time.perf_counter()
        recordings = write_recordings(work / "recordings")
        print(f"fixture: 12 clips x 6 frames at 640x480 in {time.perf_counter() - started:.1f} s")
        time_model("ststnet", {}, recordings, work / "warm-up", args.threads)  # imports, first-use costs
        print("| model | size | parameters | first run (s) | s / epoch | ms / training clip |")
        print("|---|---|---|---|---|---|")
        for name in names:
            for size in sizes:
                options = SMALL[name] if size == "small" else {}
                r = time_model(name, options, recordings, work / size, args.threads)
                print(f"| {name} | {size} | {parameters(name, options)} | {r['first_run_s']:.1f} | "
                      f"{r['epoch_s']:.2f} | {r['ms_per_train_clip']:.0f} |", flush=True)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
