"""``miex aus extract`` and ``miex aus pools``: AU tables from real clips, and z^MiE / z^MaE pools.

``miex aus extract DATASET [--root R] [--openface-dir DIR] --out OUTDIR [--pool mie|mae ...]``
    Per-clip AU tables ``OUTDIR/<dataset>/<subject>/<clip>.csv`` (``frame, AU01 … AU45``) and
    ``OUTDIR/<dataset>/index.csv`` (``clip, subject, label, dataset, onset, apex, offset, csv``),
    from the user's OpenFace CSVs (``--openface-dir``) or the built-in landmark estimator.
    With ``--pool`` it also builds pools, exactly as ``miex aus pools`` does.

``miex aus pools --index OUTDIR/<dataset>/index.csv [--index ...] --pool mie|mae --out DIR``
    Pools from one or more extractions (e.g. CK+ and Oulu-CASIA together for z^MaE):
    ``DIR/pool_fold<f>.parquet`` per fold of ``--fold-file`` (leakage-free), else
    ``DIR/pool.parquet``.

Pool building is its own subcommand so that pools can combine several datasets' extractions
and be redrawn (other seed, per-class count, folds) without extracting again. Details (CSV
naming, frame mapping, neutral frames, folds) are in :mod:`miex.datasets.extract`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from miex.errors import MiexError
from miex.parallel import add_parallel_options

_EXTRACT_EPILOG = """\
sources:
  --openface-dir DIR  OpenFace 2.x FeatureExtraction CSVs you already have. The CSV of a
                      clip is looked up as <dataset>/<subject>/<clip>.csv, <subject>/<clip>.csv,
                      <subject>_<clip>.csv, <subject>/<folder>.csv, then <clip>.csv or
                      <folder>.csv if that name is unique in the dataset (CASME II clip names
                      are not). OpenFace's frames 1..n are mapped to the dataset's frame
                      numbers in --openface-order: lexical (default; what `FeatureExtraction
                      -fdir` does: img100.jpg before img46.jpg) or numeric.
  (default)           the built-in AU estimator (--method 3d: 3D blendshape fit, default;
                      2d: the older landmark method): micro-expression datasets use the
                      onset as reference and the frames onset..offset; macro-expression
                      datasets (ckplus, oulu, mmew/casme3 --part macro) all frames, the first
                      the reference. Tables carry confidence/success columns (pools drop rows
                      below --min-confidence as for OpenFace).
                      --detect track (default): the face is detected on the clip's first
                      frame and followed by the landmarks (the box of each frame comes from
                      the previous frame's landmarks); it is detected again where tracking
                      fails (the face jumps, leaves the frame or the landmarks stop looking
                      like the previous face). --detect every: detection on every frame (the
                      behaviour before tracking; 3.5x slower in benchmarks/extract.py).
                      The mode is part of the settings in extract.json.

parallel (built-in estimator):
  --workers N         clips in N local processes (default 1, as for `miex synth`; use the
                      number of cores on a machine of your own). The files are the same bytes
                      for any N; this process writes them, in the dataset's order.
  --ray [ADDRESS]     clips as Ray tasks (pip install 'miex[ray]'); no ADDRESS starts a local
                      Ray with --workers CPUs. Dataset and --out must be on storage every node sees.

output:
  OUTDIR/<dataset>/<subject>/<clip>.csv   frame, AU01 ... AU45 (z in [0, 1], native frame numbers)
  OUTDIR/<dataset>/index.csv              clip,subject,label,dataset,onset,apex,offset,csv
                                          (for `miex aus sample --csv-dir OUTDIR/<dataset> --index ...`)
  Re-running with the same settings reuses the CSVs already written.

pools (--pool): one pool per fold with --fold-file (CSV subject,fold, fold = the fold in which
the subject is tested; fold f's pool has no clip of fold f's test subjects):
  POOL_OUT/pool_fold<f>.parquet, else POOL_OUT/pool.parquet. mie: onset + annotated apex;
  mae: first frame + random frame in [floor(alpha n), floor(beta n)].
  Pool building is also its own subcommand, `miex aus pools`, which redraws pools without
  extracting again and combines several datasets' extractions (e.g. CK+ + Oulu-CASIA).

examples:
  miex aus extract casme2 --out aus/
  miex aus extract casme2 --openface-dir openface/casme2 --out aus/ \\
      --pool mie --per-class 5000 --seed 0 --fold-file folds.csv --pool-out pools/casme2
  miex aus extract ckplus --out aus/ --pool mae --per-class 5000 --pool-out pools/ckplus

Every bad clip (missing frames, no face, unreadable CSV) is reported on one line and skipped.
"""

_POOLS_EPILOG = """\
examples:
  miex aus pools --index aus/casme2/index.csv --index aus/samm/index.csv --index aus/smic/index.csv \\
      --pool mie --per-class 5000 --seed 0 --fold-file folds.csv --out pools/megc
  miex aus pools --index aus/ckplus/index.csv --index aus/oulu/index.csv --pool mae --out pools/mae
"""


def register_aus(aus_sub: argparse._SubParsersAction) -> None:
    _add_extract(aus_sub)
    _add_pools(aus_sub)


def _pool_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    g = p.add_argument_group("pools")
    g.add_argument("--pool", choices=["mie", "mae"], required=required, default=None,
                   help="build z^MiE (micro datasets) or z^MaE (macro datasets) pools")
    g.add_argument("--per-class", type=int, default=5000, metavar="N", help="triplets per class (default 5000)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--fold-file", type=Path, default=None, metavar="F",
                   help="CSV subject,fold: one leakage-free pool per fold")
    g.add_argument("--exclude-subjects", default="", metavar="A,B",
                   help="dataset-qualified subjects left out of every pool (casme2/sub01)")
    g.add_argument("--alpha", type=float, default=0.3, help="mae: apex window start, fraction of n (default 0.3)")
    g.add_argument("--beta", type=float, default=0.5, help="mae: apex window end, fraction of n (default 0.5)")
    g.add_argument("--reuse", type=int, default=5, help="mie: consecutive samples per AU pair (default 5)")


def _add_extract(aus_sub: argparse._SubParsersAction) -> None:
    p = aus_sub.add_parser(
        "extract",
        help="per-clip AU tables of a real dataset (OpenFace CSVs or the landmark estimator), optionally pools",
        description="Extract per-clip AU tables from a real dataset (CASME II, SAMM, SMIC-HS, MMEW, CK+, "
        "Oulu-CASIA, CAS(ME)^3, 4DME, megc2019) and optionally build z^MiE / z^MaE pools for `miex synth`.",
        epilog=_EXTRACT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET", help="casme2, samm, smic, mmew, ckplus, oulu, casme3, 4dme or megc2019")
    p.add_argument("--root", type=Path, default=None, help="dataset root (default: the configured one)")
    p.add_argument("--config", default=None, metavar="FILE", help="datasets.toml to read instead of the default")
    p.add_argument("--part", choices=["micro", "macro"], default=None,
                   help="mmew, casme3: micro (default) or macro part")
    p.add_argument("--out", required=True, type=Path, metavar="OUTDIR", help="output folder of the AU tables")
    p.add_argument("--openface-dir", type=Path, default=None, metavar="DIR", help="folder of OpenFace CSVs")
    p.add_argument("--openface-order", choices=["lexical", "numeric"], default="lexical",
                   help="order in which OpenFace numbered the frames (default lexical, as -fdir does)")
    p.add_argument("--min-confidence", type=float, default=None,
                   help="drop OpenFace rows below this tracking confidence (default 0.8)")
    p.add_argument("--upsample", type=int, default=1,
                   help="estimator: face detector upsampling (0 for faces wider than ~80 px; default 1)")
    p.add_argument("--method", choices=["3d", "2d"], default=None,
                   help="estimator: 3d blendshape fit (default) or the older 2d landmark method")
    p.add_argument("--detect", choices=["track", "every"], default=None,
                   help="estimator: detect the face once per clip and track it (default) or on every frame")
    add_parallel_options(p, "clips", prefix="estimator: ")
    p.add_argument("--overwrite", action="store_true", help="replace AU tables made with other settings")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _pool_options(p, required=False)
    p.add_argument("--pool-out", type=Path, default=None, metavar="DIR", help="where --pool writes the pools")
    p.set_defaults(func=run_extract)


def _add_pools(aus_sub: argparse._SubParsersAction) -> None:
    p = aus_sub.add_parser(
        "pools",
        help="z^MiE / z^MaE pools (one per fold) from `miex aus extract` outputs",
        description="Build z^MiE or z^MaE pools from one or more index.csv files written by "
        "`miex aus extract` (the AU tables are read from each index's folder).",
        epilog=_POOLS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--index", type=Path, action="append", required=True, metavar="INDEX.csv",
                   help="an extraction's index.csv (repeat to combine datasets)")
    _pool_options(p, required=True)
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder of the pools")
    p.set_defaults(func=run_pools)


# ---------------------------------------------------------------------------------------------


def _load(args: argparse.Namespace):
    import warnings

    from miex.datasets import canonical_name, load_dataset
    from miex.datasets.config import get_root

    name = canonical_name(args.dataset)
    if name == "miex":
        raise MiexError("miex aus extract reads real datasets; `miex` synthetic sets already carry their AUs")
    kw = {}
    if args.part is not None:
        if name not in ("mmew", "casme3"):
            raise MiexError("--part applies to mmew and casme3 only")
        kw["part"] = args.part
    if name == "megc2019":
        if args.root is not None:
            raise MiexError("megc2019 uses the configured casme2, samm and smic roots; --root does not apply")
        from miex.datasets.config import load_roots

        root = {k: v for k, v in load_roots(args.config).items() if k in ("casme2", "samm", "smic") and v}
    else:
        root = args.root if args.root is not None else get_root(name, args.config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing clips are counted below
        return load_dataset(name, root, **kw)


def _check_pool_args(args: argparse.Namespace) -> None:
    if args.fold_file is not None and not Path(args.fold_file).is_file():
        raise MiexError(f"{args.fold_file}: fold file not found")
    if args.per_class < 1:
        raise MiexError(f"--per-class must be >= 1, got {args.per_class}")
    if not 0.0 <= args.alpha <= args.beta <= 1.0:
        raise MiexError(f"--alpha/--beta need 0 <= alpha <= beta <= 1, got {args.alpha}, {args.beta}")
    if args.reuse < 1:
        raise MiexError(f"--reuse must be >= 1, got {args.reuse}")


def _pools(args: argparse.Namespace, clips, out: Path, skips) -> int:
    from miex.datasets.extract import build_pools, read_folds

    folds = read_folds(args.fold_file) if args.fold_file is not None else None
    exclude = [s.strip() for s in args.exclude_subjects.split(",") if s.strip()]
    written = build_pools(
        clips,
        args.pool,
        out,
        per_class=args.per_class,
        seed=args.seed,
        folds=folds,
        exclude_subjects=exclude,
        alpha=args.alpha,
        beta=args.beta,
        reuse=args.reuse,
        skips=skips,
    )
    for fold, path in written.items():
        what = f"fold {fold}" if fold != "all" else "all subjects" + (f" but {', '.join(exclude)}" if exclude else "")
        print(f"wrote {args.pool} pool ({what}, {args.per_class} per class, seed {args.seed}) to {path}")
    return 0


def run_extract(args: argparse.Namespace) -> int:
    from miex.datasets.extract import clips_from_extraction, extract_dataset, is_macro
    from miex.errors import SkipLog
    from miex.parallel import check_workers

    if args.pool is not None:
        _check_pool_args(args)
        if args.pool_out is None:
            raise MiexError("--pool needs --pool-out DIR")
    elif args.pool_out is not None or args.fold_file is not None or args.exclude_subjects:
        raise MiexError("--pool-out, --fold-file and --exclude-subjects need --pool mie|mae")
    if args.openface_dir is None and args.min_confidence is not None:
        raise MiexError("--min-confidence applies to --openface-dir only")
    if args.openface_dir is not None and args.method is not None:
        raise MiexError("--method applies to the built-in estimator, not to --openface-dir")
    if not 0 <= args.upsample <= 4:
        raise MiexError(f"--upsample must be between 0 and 4, got {args.upsample}")
    if args.openface_dir is not None and (args.detect is not None or args.workers != 1 or args.ray is not None):
        raise MiexError("--detect, --workers and --ray apply to the built-in estimator, not to --openface-dir")
    check_workers(args.workers)

    dataset = _load(args)
    if args.pool is not None:
        macro = is_macro(dataset)
        if args.pool == "mie" and macro:
            raise MiexError(f"{dataset.name} holds macro-expressions: use --pool mae")
        if args.pool == "mae" and not macro:
            raise MiexError(f"{dataset.name} holds micro-expressions: use --pool mie (or `miex aus pools` to mix)")
    if len(dataset) == 0:
        raise MiexError(f"{dataset.name}: no 3-class samples under {dataset.root}; see `miex datasets check`")

    skips = SkipLog()
    index = extract_dataset(
        dataset,
        args.out,
        openface_dir=args.openface_dir,
        openface_order=args.openface_order,
        min_confidence=args.min_confidence,
        upsample=args.upsample,
        method=args.method,
        detect=args.detect,
        workers=args.workers,
        ray=args.ray,
        overwrite=args.overwrite,
        progress=not args.quiet,
        skips=skips,
    )
    source = "OpenFace CSVs" if args.openface_dir is not None else "landmark estimator"
    reused = index.attrs.get("reused", 0)
    print(
        f"{dataset.name}: AU tables of {len(index)} of {len(dataset)} clips ({source}"
        + (f", {reused} reused" if reused else "")
        + f") in {Path(index.attrs['index']).parent}"
    )
    print(f"index: {index.attrs['index']}")
    problems = index.attrs.get("problems", 0)
    if problems:
        print(f"miex: {dataset.name}: {problems} annotation problem(s); see `miex datasets check`", file=sys.stderr)
    extract_skips = len(skips)
    if extract_skips:
        print(f"miex: {skips.summary()}", file=sys.stderr)
    if args.pool is not None:
        if index.empty:
            raise MiexError(f"{dataset.name}: no clip gave an AU table; no pool written")
        pool_skips = SkipLog()
        clips = clips_from_extraction(index, skips=pool_skips)
        _pools(args, clips, args.pool_out, pool_skips)
        if len(pool_skips):
            print(f"miex: pools: {pool_skips.summary()}", file=sys.stderr)
    return 0


def run_pools(args: argparse.Namespace) -> int:
    from miex.datasets.extract import clips_from_extraction
    from miex.errors import SkipLog

    _check_pool_args(args)
    skips = SkipLog()
    clips = []
    for index in args.index:
        clips.extend(clips_from_extraction(index, skips=skips))
    if not clips:
        raise MiexError("no usable clip in " + ", ".join(str(i) for i in args.index))
    _pools(args, clips, args.out, skips)
    if len(skips):
        print(f"miex: {skips.summary()}", file=sys.stderr)
    return 0
