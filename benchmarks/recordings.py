"""STSTNet LOSO on 640x480 recordings of different people: what the face-crop stage is worth.

The same clips (8 different people of the LFW subset, :mod:`miex.testing.people`; 3 classes x
``--clips`` clips per subject; the MEGC2019 composite layouts) three ways:

1. ``recordings, crop auto``: 640x480 frames, default data settings (the face is cropped the meb
   way before TV-L1 flow);
2. ``recordings, crop none``: 640x480 frames, whole frames (what ``miex train`` did before the
   preprocessing stage);
3. ``aligned crops``: the same clips written as 128 px face crops (the upper bound).

Prints UF1/UAR (last epoch) and the wall time of each, and the machine's load.

    python benchmarks/recordings.py [--clips 3] [--epochs 15] [--frames 5]
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

from tests.train.fixtures import SUBJECTS, official_list  # noqa: E402


def write_tree(root: Path, clips: int, frames: int, cropped: bool) -> dict:
    from miex.testing import write_megc_composite_fixture
    from miex.testing.people import recording_source

    root.mkdir(parents=True, exist_ok=True)
    list_path = root / "official_list.csv"
    list_path.write_bytes(official_list(clips).encode("ascii"))
    roots = write_megc_composite_fixture(root, frame_source=recording_source(list(SUBJECTS), cropped=cropped),
                                         n_frames=frames, list_path=list_path)
    return {"roots": {k: str(v) for k, v in roots.items()}, "list_path": str(list_path)}


def run(tree: dict, crop: str, epochs: int, out: Path, cache: Path) -> tuple[float, float, float]:
    from miex.evaluate.metrics import scores
    from miex.train.experiment import config_from_dict
    from miex.train.runner import run_experiment

    raw = {"data": {"dataset": "megc2019", "roots": tree["roots"], "options": {"list_path": tree["list_path"]},
                    "crop": crop, "feature_cache": str(cache)},
           "model": {"name": "ststnet"},
           "protocol": {"cv": "loso", "repeats": 1},
           "train": {"schedule": "custom", "epochs": epochs, "batch_size": 16, "threads": 1}}
    started = time.perf_counter()
    summary = run_experiment(config_from_dict(raw, f"crop={crop}"), out, quiet=True)[0]
    last = summary.predictions[summary.predictions["selection"] == "last"]
    m = scores(last["label"], last["pred"])
    return m["uf1"], m["uar"], time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=3, help="clips per class and subject (default 3)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--frames", type=int, default=5, help="frames per clip (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["MIEX_CACHE_DIR"] = str(base / "cache")
        recordings = write_tree(base / "recordings", args.clips, args.frames, cropped=False)
        crops = write_tree(base / "crops", args.clips, args.frames, cropped=True)
        n = 8 * 3 * args.clips
        print(f"{n} clips of 8 different people, {args.frames} frames each; STSTNet LOSO, {args.epochs} epochs; "
              f"load {os.getloadavg()[0]:.2f}")
        for label, tree, crop in (("recordings, crop auto (default)", recordings, "auto"),
                                  ("recordings, crop none", recordings, "none"),
                                  ("aligned crops (upper bound)", crops, "none")):
            uf1, uar, seconds = run(tree, crop, args.epochs, base / f"run-{crop}-{len(label)}", base / "features")
            print(f"{label:34s} UF1 {uf1:.3f} UAR {uar:.3f}  ({seconds:.0f} s)")
        print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
