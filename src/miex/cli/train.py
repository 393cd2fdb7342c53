"""``miex train CONFIG.toml --out RUN``: train and predict every fold of an experiment config.

``--dry-run`` prints the folds (train/val/test sample and subject counts, synthetic samples
excluded per fold) without training. A killed run resumes when the same command is re-run.
"""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train recognition models under a protocol (LOSO / subject k-fold) from a config file",
        description=(
            "Train and evaluate a micro-expression recogniser as described by an experiment config (TOML; "
            "see configs/ and miex.train.experiment). Writes RUN/config.toml, folds.parquet, predictions.parquet, "
            "history.csv, checkpoints/. Re-running the same command resumes an interrupted run."
        ),
    )
    p.add_argument("config", help="experiment config file (.toml)")
    p.add_argument("--out", help="run folder (required unless --dry-run)")
    p.add_argument("--dry-run", action="store_true", help="list the folds and their sizes, then stop")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set train.epochs=5 --set data.roots.casme2=/data/CASME2")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="override [train] device")
    p.add_argument("--overwrite", action="store_true", help="discard an earlier run in --out and start again")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    import pandas as pd

    from miex.errors import MiexError
    from miex.train.experiment import dry_run, load_config

    overrides = list(args.overrides)
    if args.device:
        overrides.append(f'train.device="{args.device}"')
    config = load_config(args.config, overrides)
    if args.device and config.mode == "pretrain_finetune":
        config.raw["pretrain"]["device"] = args.device
    if args.dry_run:
        table = dry_run(config)
        for note in dict.fromkeys(table.attrs.get("notes", [])):
            print(note)
        with pd.option_context("display.max_rows", None, "display.width", 200):
            shown = table if table["run"].astype(bool).any() else table.drop(columns="run")
            print(shown.to_string(index=False))
        per_run = table.groupby(["run", "repeat"]).size()
        print(f"{len(table)} fold(s) in {table['run'].nunique()} run(s); folds per repeat: "
              f"{', '.join(str(n) for n in sorted(set(per_run)))}")
        return 0
    if not args.out:
        raise MiexError("--out RUN is required (or use --dry-run)")
    from miex.train.runner import run_experiment

    summaries = run_experiment(config, args.out, device=args.device, quiet=args.quiet, progress=not args.quiet)
    if int(os.environ.get("RANK", "0") or 0) != 0:
        return 0  # under torchrun, rank 0 reports
    for summary in summaries:
        if summary.predictions.empty:
            continue
        if not _report(summary.out):
            print(f"{summary.out}: pooled test scores (mean over repeats), {summary.seconds:.1f} s")
            print(summary.table().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
            print(f"predictions: {summary.out / 'predictions.parquet'}")
    return 0


def _report(run_dir) -> bool:
    """Write and print the evaluation report with :mod:`miex.evaluate` when it is installed."""
    try:
        from miex.evaluate.report import evaluate_run, results_table
    except ImportError:
        return False
    from miex.errors import MiexError

    try:
        metrics = evaluate_run(run_dir)
    except MiexError as exc:
        print(f"miex train: the report could not be written ({exc}); predictions are in "
              f"{run_dir}/predictions.parquet", file=sys.stderr)
        return False
    print(f"{run_dir}: {metrics['protocol']['label']}, {metrics['protocol']['n_repeats']} repeat(s)")
    print(results_table(metrics))
    if "test_best" in metrics["selections"]:
        print("test_best = optimistic: each fold's epoch chosen on its own test subjects")
    print(f"report: {run_dir}/report.md, {run_dir}/report.html")
    return True
