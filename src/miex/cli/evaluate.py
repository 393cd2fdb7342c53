"""``miex eval`` and ``miex compare``: reports for ``miex train`` run folders.

``miex eval RUN [--selection last|val_best|test_best|all] [--megc-selection S] [--megc-repeat R]
[--allow-incomplete]``
    Pooled UF1/UAR/accuracy per selection × part (mean ± std over repeats); writes
    ``metrics.json``, ``report.md``, ``report.html``, ``confusion_<selection>.png``,
    ``megc_log.txt``, ``folds.csv`` (and ``learning_curve.png``) into RUN, prints the table and
    the paths. "test_best" rows are labelled optimistic.

``miex compare RUN_A RUN_B [--metric uf1|uar|acc] [--test wilcoxon|ttest] [--selection last]
[--unit auto|fold|repeat] [--json FILE]``
    Paired significance test of B against A over shared (repeat, fold) units; for LOSO runs and
    UF1/UAR over pooled per-repeat values (per-fold UF1 of one-subject folds is degenerate).
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    ev = subparsers.add_parser(
        "eval",
        help="metrics and reports (UF1/UAR, confusion, MEGC log, leaderboard) for a run folder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ev.add_argument("run", metavar="RUN", help="run folder written by miex train")
    ev.add_argument("--selection", default="all", choices=["last", "val_best", "test_best", "all"],
                    help="epoch selection(s) to report (default: all present; test_best is labelled optimistic)")
    ev.add_argument("--megc-selection", default="last", choices=["last", "val_best", "test_best"],
                    help="selection written to megc_log.txt (default last)")
    ev.add_argument("--megc-repeat", type=int, default=0, metavar="R", help="repeat written to megc_log.txt (default 0)")
    ev.add_argument("--allow-incomplete", action="store_true",
                    help="evaluate a run whose folds are not all predicted yet (the report says so)")
    ev.set_defaults(func=eval_handler)

    cmp = subparsers.add_parser(
        "compare",
        help="paired significance test (Wilcoxon / paired t) between two runs over folds and repeats",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmp.add_argument("run_a", metavar="RUN_A")
    cmp.add_argument("run_b", metavar="RUN_B")
    cmp.add_argument("--metric", default="uf1", choices=["uf1", "uar", "acc"])
    cmp.add_argument("--test", default="wilcoxon", choices=["wilcoxon", "ttest"])
    cmp.add_argument("--selection", default="last", choices=["last", "val_best", "test_best"])
    cmp.add_argument("--unit", default="auto", choices=["auto", "fold", "repeat"],
                     help="paired unit (default auto: (repeat, fold); pooled per repeat for LOSO UF1/UAR)")
    cmp.add_argument("--json", metavar="FILE", help="also write the result as JSON")
    cmp.set_defaults(func=compare_handler)


def eval_handler(args: argparse.Namespace) -> int:
    from pathlib import Path

    from miex.evaluate.report import evaluate_run, results_table

    metrics = evaluate_run(
        args.run,
        selections=args.selection,
        megc_selection=args.megc_selection,
        megc_repeat=args.megc_repeat,
        allow_incomplete=args.allow_incomplete,
    )
    proto = metrics["protocol"]
    print(f"{metrics['run']}: {proto['label']}, {proto['n_repeats']} repeat(s)")
    if metrics["incomplete"]:
        print(f"INCOMPLETE: {len(metrics['incomplete'])} fold/selection unit(s) without predictions")
    print(results_table(metrics))
    if "test_best" in metrics["selections"]:
        print("test_best = optimistic: each fold's epoch chosen on its own test subjects")
    print("wrote:")
    for name in metrics["files"].values():
        print(f"  {Path(metrics['run']) / name}")
    return 0


def compare_handler(args: argparse.Namespace) -> int:
    from miex.evaluate.compare import compare_runs, format_comparison
    from miex.evaluate.report import json_safe
    from miex.io import write_json

    result = compare_runs(args.run_a, args.run_b, metric=args.metric, selection=args.selection, test=args.test, unit=args.unit)
    print(format_comparison(result))
    if args.json:
        write_json(args.json, json_safe(result.to_dict()))
        print(f"wrote {args.json}")
    return 0
