"""``miex synth``: build a MiE-X-style synthetic training set."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from miex.errors import MiexError
from miex.parallel import LOCAL_RAY, add_parallel_options


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="synthesize a MiE-X-style training set from a face pool and AU sources",
        description=(
            "Render ids x 3 classes x sources samples (onset/apex frames or clips) onto faces, in the released "
            "MiE-X folder layout, with manifest.parquet, list files, config.json and card.html. Resumable: "
            "re-run the same command after an interruption."
        ),
    )
    add_synth_arguments(parser)
    parser.set_defaults(func=handle)


def add_synth_arguments(parser: argparse.ArgumentParser, *, out_default: str | None = None) -> None:
    parser.add_argument("--faces", required=out_default is None, default="builtin" if out_default else None,
                        help="face pool: a folder of photos, a CelebA root (img_align_celeba/ + identity_CelebA.txt), "
                        "or 'builtin' (real photos shipped with installed packages)")
    parser.add_argument("--out", required=out_default is None, default=out_default, help="output folder")
    parser.add_argument("--ids", type=int, default=5000 if out_default is None else 4, help="number of identities")
    parser.add_argument("--sources", default=None,
                        help="comma list of expert,mae,mie (default: the sources whose pools are given; "
                        "expert alone with only --faces)")
    parser.add_argument("--mae-pool", help="z^MaE pool from `miex aus sample --source mae`")
    parser.add_argument("--mie-pool", help="z^MiE pool from `miex aus sample --source mie`")
    parser.add_argument("--size", type=int, default=128, help="crop size in pixels (MiE-X: 128)")
    parser.add_argument("--frames", default="2", choices=["2", "10", "clip"],
                        help="2: onset+apex; 10: the paper's video variant; clip: whole onset-apex-offset clips")
    parser.add_argument("--seed", type=int, default=0)
    add_parallel_options(parser, "render identities")
    parser.add_argument("--fold-file", help="CSV subject,fold: writes one leakage-free training list per fold")
    parser.add_argument("--generator", default="warp",
                        help="generator backend: warp (default, training-free) or ganimation (needs --weights)")
    parser.add_argument("--weights", metavar="FILE",
                        help="GANimation generator weights: {epoch}_net_gen.pth (ganimation_replicate or "
                        "`miex generator train`) or net_epoch_E_id_G.pth (official GANimation)")
    parser.add_argument("--device", default="cpu", help="where GANimation runs: cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--jpeg-quality", type=int, default=95)
    parser.add_argument("--allow-reuse", action="store_true", help="reuse faces when the pool has fewer than --ids")
    parser.add_argument("--expert-table", default="miex", choices=["miex", "du2014"])
    parser.add_argument("--mu", type=float, default=0.1, help="expert intensity lower bound")
    parser.add_argument("--nu", type=float, default=0.3, help="expert intensity upper bound")
    parser.add_argument("--fps", type=float, default=200.0, help="clip frame rate (--frames clip)")
    parser.add_argument("--duration", default="0.04-0.5", help="clip duration range in seconds, MIN-MAX")
    parser.add_argument("--mp4", action="store_true", help="also write clip.mp4 per sample (--frames clip)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier set made with another config")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace):
    from miex.synth.config import SynthConfig

    sources = args.sources.split(",") if args.sources else default_sources(args)
    return SynthConfig(
        faces=resolve(args.faces),
        out=str(Path(args.out).resolve()),
        ids=args.ids,
        sources=tuple(s.strip() for s in sources if s.strip()),
        mae_pool=resolve(args.mae_pool),
        mie_pool=resolve(args.mie_pool),
        size=args.size,
        frames=args.frames,
        seed=args.seed,
        generator=args.generator,
        weights=resolve(args.weights),
        device=args.device,
        jpeg_quality=args.jpeg_quality,
        allow_reuse=args.allow_reuse,
        fold_file=resolve(args.fold_file),
        expert_table=args.expert_table,
        mu=args.mu,
        nu=args.nu,
        fps=args.fps,
        duration=parse_range(args.duration),
        mp4=args.mp4,
        workers=max(1, args.workers),
        ray=args.ray is not None,
        ray_address=None if args.ray in (None, LOCAL_RAY) else args.ray,
        overwrite=args.overwrite,
        command=shlex.join(["miex", *sys.argv[1:]]),
    )


def default_sources(args: argparse.Namespace) -> list[str]:
    sources = ["expert"]
    if args.mae_pool:
        sources.append("mae")
    if args.mie_pool:
        sources.append("mie")
    return sources


def resolve(path: str | None) -> str | None:
    if path is None or path == "builtin":
        return path
    return str(Path(path).resolve())


def parse_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split("-", 1))
    except ValueError:
        raise MiexError(f"--duration must look like 0.04-0.5 (seconds), got {text!r}") from None
    return low, high


def handle(args: argparse.Namespace) -> int:
    from miex.synth.runner import run_synth

    report = run_synth(config_from_args(args), progress=not args.quiet)
    print(report.summary())
    print(f"dataset card: {report.out / 'card.html'}")
    return 0
