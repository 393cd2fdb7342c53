"""``miex pretrain ma2mi``: MA2MI-style pre-training of MIACNet on macro-expression videos.

    miex pretrain ma2mi --videos DIR --out RUN --epochs 1 --size 64
    miex pretrain ma2mi --dataset ckplus --dataset oulu --dataset mmew --out RUN --config configs/ma2mi/pretrain.toml
    torchrun --nproc_per_node 4 -m miex pretrain ma2mi --config ... --out RUN     (DDP; bf16 on CUDA)

Command-line options override the config file. Re-running the same command resumes an
interrupted run. ``RUN/checkpoints/last.pt`` then initialises a MIACNet recognition run:
``miex train CONFIG --set model.init_weights=RUN/checkpoints/last.pt``.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pretrain",
        help="self-supervised pre-training of recognisers on macro-expression videos (MA2MI)",
        description="Pre-train a recogniser's encoders without labels; the result initialises `miex train` runs.",
    )
    methods = parser.add_subparsers(dest="method", metavar="METHOD")
    p = methods.add_parser(
        "ma2mi",
        help="MIACNet encoders predict the latent of future frames (Li et al. 2024, MA2MI-style)",
        description=(
            "From frame t and the clip's first frame, predict the latent of frame t+k (EMA target encoder). "
            "Clips: --videos folders (mp4/avi/mov files, frame folders, `miex synth --frames clip` output) and "
            "--dataset NAME[=ROOT] (ckplus, oulu, mmew macro part). Each clip is cropped around the face found on "
            "its first frame (cached); clips without a face, unreadable or too short are counted skips. Writes "
            "RUN/checkpoints/last.pt, resume.pt, loss.csv, steps.csv, learning_curve.png."
        ),
    )
    p.add_argument("--videos", action="append", default=[], metavar="DIR", help="folder of clips (repeatable)")
    p.add_argument("--dataset", action="append", default=[], metavar="NAME[=ROOT]",
                   help="a dataset miex reads, e.g. ckplus or oulu=/data/Oulu (repeatable)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder")
    p.add_argument("--config", metavar="FILE", help="TOML config (see miex.train.ma2mi.config)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set ma2mi.k_max=6")
    p.add_argument("--epochs", type=int, help="override [train] epochs")
    p.add_argument("--size", type=int, help="override [model] size (crop and input size)")
    p.add_argument("--width", type=int, help="override [model] width (ResNet-18 trunk width)")
    p.add_argument("--batch-size", type=int, help="override [train] batch_size")
    p.add_argument("--seed", type=int, help="override [train] seed")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override [train] device")
    p.add_argument("--overwrite", action="store_true", help="start again instead of resuming the run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars or messages")
    p.set_defaults(func=handler)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def handler(args: argparse.Namespace) -> int:
    from miex.train.ma2mi import load_config, pretrain_ma2mi

    overrides = {
        "model": {"size": args.size, "width": args.width},
        "train": {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed, "device": args.device},
    }
    config = load_config(args.config, overrides, args.overrides)
    if args.videos:
        config["data"]["videos"] = list(args.videos)
    if args.dataset:
        config["data"]["datasets"] = list(args.dataset)
    result = pretrain_ma2mi(config, args.out, overwrite=args.overwrite, progress=not args.quiet, quiet=args.quiet)
    if not args.quiet:
        last = result.history.iloc[-1] if len(result.history) else None
        loss = f", final loss {last['loss']:.4f}" if last is not None else ""
        print(f"ma2mi: {result.clips} clip(s) used, {result.skipped} skipped{loss}; weights: {result.last}")
    return 0
