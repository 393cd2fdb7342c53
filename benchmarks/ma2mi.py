"""MA2MI benchmarks (issue 11, sections 6 and 7).

1. Throughput of pre-training on CPU (clip pairs/s) and the data pipeline's share of it, on 72
   macro-expression videos (640x480, ``miex.testing.ma2mi.write_pretrain_videos``: 8 LFW-subset
   people and the two shipped photos, plain and mirrored, 6 emotions each):
   - preprocessing: first pass (decode + dlib on the first frame + crop of every frame) and the
     cached pass, in clips/s;
   - the data pipeline alone (PairSet + DataLoader: npz decode, sampling, flip, normalisation);
   - one epoch of ``pretrain_ma2mi`` (pairs/s and ``data_share`` = time waiting for batches);
   at the proof size (64 px, width 16) and at MIACNet's ResNet-18 width (112 px, width 64).
2. The proof (``--proof``): MA2MI-style pre-training on those videos, then MIACNet fine-tuned on a
   CASME II-layout micro-expression fixture of 6 *other* people (640x480 recordings through
   ``miex train``'s face-crop stage; 6 subjects x 3 classes x 3 clips), subject-wise 3-fold x 3
   repeats, against the same MIACNet from scratch, compared with ``miex compare`` (paired Wilcoxon
   over the 9 folds), at the last epoch, for two fine-tuning schedules.

    python benchmarks/ma2mi.py                  # throughput only
    python benchmarks/ma2mi.py --proof          # throughput + proof (about 10-15 minutes on 2 cores)
    python benchmarks/ma2mi.py --proof --skip-throughput --pretrain-epochs 6
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch


def _pretrain_config(videos: Path, size: int, width: int, epochs: int, threads: int, seed: int = 0, pairs: int = 8):
    from miex.train.ma2mi import validate

    return validate({"data": {"videos": [str(videos)], "crop_method": "meb"}, "model": {"size": size, "width": width},
                     "ma2mi": {"pairs_per_clip": pairs},
                     "train": {"epochs": epochs, "batch_size": 32, "threads": threads, "seed": seed}}, "benchmark")


def throughput(root: Path, threads: int) -> None:
    from miex.datasets.videos import ClipSettings, collect_clips
    from miex.errors import SkipLog
    from miex.train.ma2mi import pretrain_ma2mi
    from miex.train.ma2mi.data import PairSet

    videos = root / "videos"
    for size, width in ((64, 16), (112, 64)):
        settings = ClipSettings(size=size, method="meb")
        cache = root / f"crops-{size}"
        for label in ("first pass", "cached"):
            t = time.perf_counter()
            clips = collect_clips([videos], settings=settings, cache_dir=cache, skips=SkipLog(echo=False),
                                  progress=False)
            dt = time.perf_counter() - t
            print(f"[{size}px] preprocessing, {label}: {len(clips)} clips in {dt:.1f} s "
                  f"= {len(clips) / dt:.1f} clips/s")
        pairs = PairSet(clips, k_min=1, k_max=4, pairs_per_clip=8, hflip=0.5, seed=0)
        loader = torch.utils.data.DataLoader(pairs, batch_size=32, shuffle=False)
        t = time.perf_counter()
        n = sum(int(b[0].shape[0]) for b in loader)
        dt = time.perf_counter() - t
        print(f"[{size}px] data pipeline alone: {n} pairs in {dt:.2f} s = {n / dt:.0f} pairs/s")
        cfg = _pretrain_config(videos, size, width, 1, threads, pairs=8 if width < 64 else 2)
        cfg["data"]["cache_dir"] = str(cache)
        res = pretrain_ma2mi(cfg, root / f"pre-{size}-{width}", progress=False, quiet=True, overwrite=True)
        row = res.history.iloc[-1]
        print(f"[{size}px, width {width}] pre-training: {row['pairs_per_s']:.1f} pairs/s on {threads} torch "
              f"thread(s); data share {100 * row['data_share']:.1f}% of the epoch")


def proof(root: Path, threads: int, pretrain_epochs: int, schedules: list[tuple[int, float]]) -> None:
    from sklearn.metrics import f1_score

    from miex.evaluate.compare import compare_runs, format_comparison
    from miex.testing.ma2mi import write_finetune_casme2
    from miex.train.experiment import config_from_dict
    from miex.train.ma2mi import pretrain_ma2mi
    from miex.train.runner import run_experiment

    t = time.perf_counter()
    res = pretrain_ma2mi(_pretrain_config(root / "videos", 64, 16, pretrain_epochs, threads), root / "pretrain",
                         progress=False, quiet=True)
    h = res.history
    print(f"pre-training: {res.clips} clips, {pretrain_epochs} epochs in {time.perf_counter() - t:.0f} s; "
          f"loss {h['loss'].iloc[0]:.3f} -> {h['loss'].iloc[-1]:.3f} (copy-frame-t baseline "
          f"{h['copy_loss'].iloc[-1]:.3f}), target_std {h['target_std'].iloc[-1]:.3f}")
    fixture = write_finetune_casme2(root / "casme2")
    print(f"fine-tuning fixture: {len(fixture.clips)} CASME II clips (640x480) of 6 people not in pre-training")
    for epochs, lr in schedules:
        runs = {}
        for name, init in (("scratch", ""), ("ma2mi", str(res.last))):
            model = {"name": "miacnet", "image_size": 64, "width": 16, **({"init_weights": init} if init else {})}
            raw = {"experiment": {"name": f"ma2mi-proof-{name}"},
                   "data": {"dataset": "casme2", "roots": {"casme2": str(fixture.root)}, "preload": True,
                            "feature_cache": str(root / "features")},
                   "model": model,
                   "protocol": {"mode": "real", "cv": "kfold", "k": 3, "repeats": 3, "val_fraction": 0.0, "seed": 0},
                   "train": {"schedule": "custom", "epochs": epochs, "batch_size": 16, "threads": threads, "lr": lr}}
            out = root / f"finetune-{name}-{epochs}-{lr:g}"
            t = time.perf_counter()
            summary = run_experiment(config_from_dict(raw, name), out, quiet=True)[0]
            pred = summary.predictions[summary.predictions["selection"] == "last"]
            per = [f1_score(g["label"], g["pred"], average="macro") for _, g in pred.groupby("repeat")]
            print(f"  {epochs} epochs, lr {lr:g}, {name:7s}: UF1 per repeat {', '.join(f'{u:.3f}' for u in per)} "
                  f"(mean {sum(per) / len(per):.3f}) in {time.perf_counter() - t:.0f} s")
            runs[name] = out
        text = format_comparison(compare_runs(runs["scratch"], runs["ma2mi"], metric="uf1"))
        print("  " + text.replace("\n", "\n  "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proof", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--pretrain-epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--root", help="work folder (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from miex.testing.ma2mi import write_pretrain_videos

    with tempfile.TemporaryDirectory(prefix="miex-ma2mi-") as tmp:
        root = Path(args.root or tmp)
        os.environ.setdefault("MIEX_CACHE_DIR", str(root / "cache"))
        t = time.perf_counter()
        videos = write_pretrain_videos(root / "videos")
        print(f"videos: {len(videos)} macro-expression videos (640x480) written in {time.perf_counter() - t:.0f} s")
        if not args.skip_throughput:
            throughput(root, args.threads)
        if args.proof:
            proof(root, args.threads, args.pretrain_epochs, [(10, 1e-4), (30, 3e-4)])


if __name__ == "__main__":
    main()
