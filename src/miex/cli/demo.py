"""``miex demo``: the main job on built-in defaults, for a fresh machine."""

from __future__ import annotations

import argparse

from miex.cli.synth import add_synth_arguments, config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="synthesize a small MiE-X set from the built-in face photos and write its card",
        description="A small MiE-X-style set from the real face photos shipped with installed packages "
        "(expert AU source), with its dataset card. Takes about a minute on 2 cores.",
    )
    add_synth_arguments(parser, out_default="demo_out")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from miex.synth.runner import run_synth

    config = config_from_args(args)
    report = run_synth(config, progress=not args.quiet)
    print(report.summary())
    print()
    print("Look at:")
    print(f"  {report.out / 'card.html'}        dataset card (counts, AU profile, contact sheet)")
    print(f"  {report.out / 'manifest.parquet'}  one row per sample")
    print(f"  {report.out / 'lists' / 'all.txt'}      MiE-X list file")
    return 0
