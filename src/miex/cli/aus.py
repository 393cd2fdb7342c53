"""``miex aus``: sample AU triplet pools and look at them.

Subcommands
-----------
``miex aus sample --source expert|mae|mie … --per-class N --seed S --out POOL``
    Draws ``N`` triplets per class (0 negative, 1 positive, 2 surprise) and writes a Parquet
    pool (columns in :mod:`miex.au.pool`). The same arguments give a byte-identical file.

    * ``expert``: ``--table miex|du2014``, ``--mu``, ``--nu``; ``--frames N`` adds the
      N-frame linear ramp (``sequence`` column) for video synthesis.
    * ``mae`` / ``mie``: ``--csv-dir DIR --index INDEX.csv`` (below); ``--exclude-subjects``;
      ``mae``: ``--alpha``, ``--beta``; ``mie``: ``--reuse``; both: ``--min-confidence``
      (OpenFace rows below it are dropped), ``--dataset`` (default dataset name).

``miex aus show POOL [--plot PNG]``
    Prints counts per class × source and the mean apex intensity of every AU, and writes a
    heatmap PNG (default ``<pool stem>_profile.png`` next to the pool).

Clip index file (``--index``)
-----------------------------
A CSV with a header row. Required columns ``clip, subject, label``; optional ``dataset, onset,
apex, offset, csv``::

    clip,subject,label,dataset,onset,apex,offset,csv
    EP02_01f,sub01,happiness,casme2,46,59,86,
    s1_ne_01,s1,0,smic,,,,s1_ne_01_openface.csv

* ``label``: 0/1/2 or an emotion word (anger, contempt, disgust, fear, sadness, repression,
  negative -> 0; happiness, happy, positive -> 1; surprise -> 2).
* ``onset/apex/offset``: frame numbers as in the OpenFace CSV's ``frame`` column; empty = not
  given (mie: onset = first row, apex = middle frame; mae: onset/offset trim the clip, apex
  ignored).
* ``csv``: OpenFace CSV file name relative to ``--csv-dir`` (default ``<clip>.csv``).
* ``dataset`` qualifies subjects (``casme2/sub01``) for provenance and ``--exclude-subjects``.

A bad row (unknown label, missing or malformed CSV, annotated frame not in the CSV) is reported
on one line naming the row and skipped; a summary follows at the end.

Extensions
----------
After its own subcommands, :func:`register` imports every module ``miex.cli.aus_*`` and calls
its ``register_aus(aus_subparsers)`` (e.g. ``miex aus estimate``, ``miex aus extract``).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from miex.errors import MiexError

_INDEX_HELP = """\
clip index (--index): CSV with header; required columns clip, subject, label;
optional dataset, onset, apex, offset, csv.
  label     0/1/2 or an emotion word (anger, contempt, disgust, fear, sadness,
            repression, negative -> 0; happiness, happy, positive -> 1; surprise -> 2)
  onset, apex, offset
            frame numbers of the OpenFace CSV's `frame` column; empty = not given
            (mie: onset = first row, no apex = middle frame;
            mae: onset/offset trim the clip, apex ignored)
  csv       OpenFace CSV name relative to --csv-dir (default <clip>.csv)
  dataset   qualifies subjects (casme2/sub01); default --dataset
example:
  clip,subject,label,dataset,onset,apex,offset
  EP02_01f,sub01,happiness,casme2,46,59,86
Bad rows are reported on one line each and skipped.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "aus",
        help="sample AU triplet pools (expert, MaE, MiE) and show them",
        description="Sample AU triplet pools (MiE-X expert / MaE / MiE sources) and show them.",
    )
    aus_sub = parser.add_subparsers(dest="aus_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: _no_subcommand(parser))
    _add_sample(aus_sub)
    _add_show(aus_sub)
    _register_extensions(aus_sub)


def _no_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _register_extensions(aus_sub: argparse._SubParsersAction) -> None:
    import miex.cli

    for info in sorted(pkgutil.iter_modules(miex.cli.__path__), key=lambda m: m.name):
        if not info.name.startswith("aus_"):
            continue
        module = importlib.import_module(f"miex.cli.{info.name}")
        hook = getattr(module, "register_aus", None)
        if hook is not None:
            hook(aus_sub)


# ---------------------------------------------------------------------------------------------
# sample


def _add_sample(aus_sub: argparse._SubParsersAction) -> None:
    p = aus_sub.add_parser(
        "sample",
        help="draw an AU triplet pool from one source",
        description="Draw N (onset, apex, label) AU triplets per class from one MiE-X source\n"
        "and write them as a Parquet pool. The same arguments give a byte-identical file.",
        epilog=_INDEX_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--source", required=True, choices=["expert", "mae", "mie"], help="AU source")
    p.add_argument("--per-class", type=int, default=5000, metavar="N", help="triplets per class (default 5000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, type=Path, metavar="POOL", help="output pool (.parquet)")
    g = p.add_argument_group("expert")
    g.add_argument("--table", choices=["miex", "du2014"], default=None, help="rule table (default miex)")
    g.add_argument("--mu", type=float, default=None, help="lowest intensity of an active AU (default 0.1)")
    g.add_argument("--nu", type=float, default=None, help="highest intensity of an active AU (default 0.3)")
    g.add_argument("--frames", type=int, default=None, metavar="N",
                   help="also store the N-frame linear ramp onset->apex (sequence column)")
    g = p.add_argument_group("mae / mie")
    g.add_argument("--csv-dir", type=Path, default=None, metavar="DIR", help="folder of OpenFace CSVs")
    g.add_argument("--index", type=Path, default=None, metavar="INDEX.csv", help="clip index (format below)")
    g.add_argument("--dataset", default="", help="dataset name for index rows without one")
    g.add_argument("--exclude-subjects", default="", metavar="A,B",
                   help="subjects that must not feed the pool (casme2/sub01; a bare sub01 takes --dataset)")
    g.add_argument("--min-confidence", type=float, default=None,
                   help="drop OpenFace rows below this tracking confidence (default 0.8)")
    g.add_argument("--alpha", type=float, default=None, help="mae: apex window start, fraction of n (default 0.3)")
    g.add_argument("--beta", type=float, default=None, help="mae: apex window end, fraction of n (default 0.5)")
    g.add_argument("--reuse", type=int, default=None, help="mie: consecutive samples per pair (default 5)")
    p.set_defaults(func=run_sample)


_ONLY = {
    "expert": ("table", "mu", "nu", "frames"),
    "mae": ("csv_dir", "index", "alpha", "beta", "min_confidence"),
    "mie": ("csv_dir", "index", "reuse", "min_confidence"),
}


def _check_options(args: argparse.Namespace) -> None:
    allowed = set(_ONLY[args.source])
    for names in _ONLY.values():
        for name in names:
            if name not in allowed and getattr(args, name) is not None:
                flag = "--" + name.replace("_", "-")
                raise MiexError(f"{flag} does not apply to --source {args.source}")
    if args.source == "expert" and args.exclude_subjects:
        raise MiexError("--exclude-subjects does not apply to --source expert")
    if args.per_class < 1:
        raise MiexError(f"--per-class must be >= 1, got {args.per_class}")
    if args.source != "expert" and (args.csv_dir is None or args.index is None):
        raise MiexError(f"--source {args.source} needs --csv-dir DIR and --index INDEX.csv")


def _opt(value, default):
    return default if value is None else value


def run_sample(args: argparse.Namespace) -> int:
    from miex.au.pool import write_pool
    from miex.au.sources import ExpertSource, MaESource, MiESource, clips_from_index
    from miex.errors import SkipLog
    from miex.seeding import rng
    from miex.subjects import qualify_all

    _check_options(args)
    generator = rng(args.seed, "aus", args.source)
    skips = SkipLog()
    if args.source == "expert":
        source = ExpertSource(table=_opt(args.table, "miex"), mu=_opt(args.mu, 0.1), nu=_opt(args.nu, 0.3))
        pool = source.sample(args.per_class, generator, n_frames=args.frames)
    else:
        clips = clips_from_index(
            args.index, args.csv_dir, dataset=args.dataset, min_confidence=args.min_confidence, skips=skips
        )
        exclude = sorted(qualify_all(args.exclude_subjects.split(","), args.dataset, where="--exclude-subjects"))
        if args.source == "mae":
            source = MaESource(clips, alpha=_opt(args.alpha, 0.3), beta=_opt(args.beta, 0.5),
                               exclude_subjects=exclude, skips=skips)
        else:
            source = MiESource(clips, reuse=_opt(args.reuse, 5), exclude_subjects=exclude, skips=skips)
        used = {label: len(pairs) for label, pairs in source.by_class.items()}
        print(
            f"clips: {sum(used.values())} usable "
            f"({', '.join(f'{n} class {lab}' for lab, n in used.items())}), "
            f"{len(source.excluded)} excluded by subject",
            file=sys.stderr,
        )
        pool = source.sample(args.per_class, generator)
    out = write_pool(pool, args.out)
    if len(skips):
        print(f"miex: {skips.summary()}", file=sys.stderr)
    print(f"wrote {len(pool)} AU triplets ({args.source}, {args.per_class} per class, seed {args.seed}) to {out}")
    return 0


# ---------------------------------------------------------------------------------------------
# show


def _add_show(aus_sub: argparse._SubParsersAction) -> None:
    p = aus_sub.add_parser(
        "show",
        help="summarise an AU pool and plot its mean apex AU profile",
        description="Print counts per class and source and the mean apex intensity of each AU; "
        "write a heatmap PNG (like MiE-X supplementary Fig. 1).",
    )
    p.add_argument("pool", type=Path, metavar="POOL", help="pool file written by `miex aus sample`")
    p.add_argument("--plot", type=Path, default=None, metavar="PNG",
                   help="where to write the PNG (default <pool stem>_profile.png next to the pool)")
    p.set_defaults(func=run_show)


def run_show(args: argparse.Namespace) -> int:
    from miex.au.plot import plot_pool_profile
    from miex.au.pool import read_pool, summarize_pool

    pool = read_pool(args.pool)
    summary = summarize_pool(pool)
    print(format_summary(summary, title=f"{args.pool}: {len(pool)} AU triplets"))
    png = args.plot or args.pool.with_name(f"{args.pool.stem}_profile.png")
    plot_pool_profile(pool, png, title=f"Mean apex AU intensity per class\n{args.pool.name}, {len(pool)} triplets")
    print(f"plot: {png}")
    return 0


def format_summary(summary, *, title: str = "") -> str:
    """Plain-text tables: counts (class × source) and mean apex AU intensity per (source, class)."""
    from miex.au.space import AU_NAMES, FACS_NAMES, LABEL_NAMES

    lines = [title] if title else []
    if summary.empty:
        return "\n".join(lines + ["(empty pool)"])
    sources = list(dict.fromkeys(summary["source"]))
    classes = [LABEL_NAMES[k] for k in sorted(LABEL_NAMES)]

    def count(source: str, cls: str, col: str = "n") -> int:
        row = summary[(summary["source"] == source) & (summary["class"] == cls)]
        return int(row[col].iloc[0]) if len(row) else 0

    head = f"{'':<10}" + "".join(f"{c:>10}" for c in classes) + f"{'total':>10}"
    lines += ["", "triplets per class and source", head]
    for s in sources:
        cells = [count(s, c) for c in classes]
        lines.append(f"{s:<10}" + "".join(f"{v:>10}" for v in cells) + f"{sum(cells):>10}")
    if len(sources) > 1:
        totals = [sum(count(s, c) for s in sources) for c in classes]
        lines.append(f"{'total':<10}" + "".join(f"{v:>10}" for v in totals) + f"{sum(totals):>10}")

    keys = list(zip(summary["source"], summary["class"]))
    width = 11
    label_w = 30
    cols = "".join(f"{f'{s}/{c[:3]}':>{width}}" for s, c in keys)
    lines += ["", "mean apex intensity z (0-1) per source/class", f"{'':<{label_w}}" + cols]
    for name in AU_NAMES:
        label = f"{name} {FACS_NAMES[name]}"
        lines.append(f"{label:<{label_w}}" + "".join(f"{v:>{width}.3f}" for v in summary[name]))
    lines.append(f"{'active AUs per sample':<{label_w}}" + "".join(f"{v:>{width}.2f}" for v in summary["active_aus"]))
    if (summary["clips"] > 0).any():
        lines.append(f"{'distinct clips':<{label_w}}" + "".join(f"{int(v):>{width}}" for v in summary["clips"]))
    return "\n".join(lines)
