"""``miex datasets``: what the configured dataset copies hold.

``miex datasets check [--config FILE] [--no-decode] [--strict]``
    One row per dataset (casme2, samm, smic, mmew, ckplus, oulu, casme3, 4dme, and the megc2019
    composite):
    root, found?, clips, 3-class samples, subjects, problems; then a short list of the problems
    (missing clips, bad annotation rows, unreadable frames, ...). Roots come from
    ``~/.config/miex/datasets.toml`` (``$MIEX_CONFIG``, ``$XDG_CONFIG_HOME``) section ``[roots]``,
    overridden by ``MIEX_<NAME>_ROOT``. Exit status 0; with ``--strict`` 1 when any dataset has
    problems or a configured root is missing.

``miex datasets show NAME [--root DIR] [--config FILE] [-n N] [--native | --scheme SCHEME]``
    Class counts and the first ``N`` samples of one dataset (``--scheme``: a dataset's own label
    scheme, e.g. CAS(ME)^3 ``4class``, ``7class`` or ``objective``).

``miex datasets crop NAME [--root DIR] [--method meb|mie-x] [--size 128] [--frames clip|pair|all]``
    Face crops of every clip into the crop cache (``$MIEX_CACHE_DIR/crops``): the MiE-X way (one
    detector box from the onset frame, applied to every frame) or the MEB way (eye alignment of
    the onset, the same similarity applied to every frame). A second run reads the cache.
"""

from __future__ import annotations

import argparse
import warnings
from collections import Counter
from typing import Any

from miex.errors import MiexError

EXAMPLES_PER_KIND = 3


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "datasets",
        help="check the configured real datasets (CASME II, SAMM, SMIC-HS, MMEW, CK+, Oulu-CASIA, CAS(ME)^3, 4DME)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="datasets_command", metavar="SUBCOMMAND")
    check = sub.add_parser("check", help="table of what each configured dataset root holds and what is missing")
    check.add_argument("--config", metavar="FILE", help="datasets.toml to read instead of the default")
    check.add_argument("--no-decode", action="store_true", help="do not decode onset/apex frames (faster)")
    check.add_argument("--strict", action="store_true", help="exit 1 when any dataset has problems")
    check.set_defaults(func=check_handler)
    show = sub.add_parser("show", help="class counts and the first samples of one dataset")
    show.add_argument("name", help="casme2, samm, smic, mmew, ckplus, oulu, casme3, 4dme, megc2019 or miex")
    show.add_argument("--root", metavar="DIR", help="dataset root (default: the configured one)")
    show.add_argument("--config", metavar="FILE", help="datasets.toml to read instead of the default")
    show.add_argument("-n", type=int, default=10, metavar="N", help="samples to list (default 10)")
    show.add_argument("--native", action="store_true", help="native label scheme instead of 3-class")
    show.add_argument("--scheme", metavar="SCHEME", default=None,
                      help="a label scheme of the dataset (3class, native; casme3 also 4class, 7class, objective)")
    show.set_defaults(func=show_handler)
    crop = sub.add_parser("crop", help="face crops of every clip into the crop cache (MiE-X or MEB way)")
    crop.add_argument("name", help="casme2, samm, smic, mmew, ckplus, oulu, casme3 or 4dme")
    crop.add_argument("--root", metavar="DIR", help="dataset root (default: the configured one)")
    crop.add_argument("--method", choices=["meb", "mie-x"], default="meb",
                      help="meb: eye alignment of the onset, as miex train's default crop; mie-x: one box from "
                           "the onset frame (default meb)")
    crop.add_argument("--size", type=int, default=128, help="crop size in pixels (default 128)")
    crop.add_argument("--frames", choices=["clip", "pair", "all"], default="clip",
                      help="onset..offset (clip), onset+apex (pair) or every frame (all)")
    crop.add_argument("--upsample", type=int, default=1, help="dlib detector upsampling (default 1)")
    crop.set_defaults(func=crop_handler)
    parser.set_defaults(func=lambda args: _no_subcommand(parser))


def _no_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


# ----------------------------------------------------------------------------- check
def _load(name: str, root: Any, config: str | None) -> Any:
    from miex.datasets import Megc2019Composite, load_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "megc2019":
            return Megc2019Composite(config=config)
        return load_dataset(name, root)


def _check_one(name: str, root: Any, config: str | None, decode: bool) -> dict[str, Any]:
    from miex.datasets import Problem

    row: dict[str, Any] = {"dataset": name, "root": str(root), "found": "yes", "clips": "-", "3class": "-", "subjects": "-"}
    try:
        ds = _load(name, root, config)
        problems = ds.validate(decode=decode)
    except MiexError as exc:
        row["found"] = "error"
        problems = [Problem(name, "", "missing_annotations", str(exc))]
    except Exception as exc:  # noqa: BLE001 - the check must report, never print a traceback
        row["found"] = "error"
        problems = [Problem(name, "", "error", f"{type(exc).__name__}: {exc}")]
    else:
        if name == "megc2019":
            row["clips"] = f"{len(ds)}/{len(ds.official)}"
            row["3class"] = str(len(ds))
            if len(ds) == 0:
                row["found"] = "no"
            elif len(ds) < len(ds.official):
                row["found"] = "partial"
            listed = ds.official["dataset"].value_counts()
            found = ds.samples["part"].value_counts()
            row["note"] = "clips found per part: " + ", ".join(
                f"{part} {int(found.get(part, 0))}/{int(listed.get(part, 0))}" for part in ("smic", "casme2", "samm")
            )
        else:
            row["clips"] = str(len(ds.annotations))
            row["3class"] = str((ds.annotations["label3"] >= 0).sum())
        row["subjects"] = str(ds.samples["subject"].nunique())
    row["problems"] = problems
    return row


def check_handler(args: argparse.Namespace) -> int:
    from miex.datasets.config import ROOT_NAMES, config_path, root_settings

    settings = root_settings(args.config)
    rows = []
    for name in ROOT_NAMES:
        s = settings[name]
        if s.path is None:
            rows.append(_blank_row(name, "-", "not configured"))
        elif not s.path.is_dir():
            rows.append(_blank_row(name, str(s.path), "missing", f"root {s.path} ({s.source}) does not exist"))
        else:
            rows.append(_check_one(name, s.path, args.config, not args.no_decode))
    parts = [settings[n] for n in ("casme2", "samm", "smic")]
    if any(s.path is not None for s in parts):
        rows.append(_check_one("megc2019", "casme2+samm+smic", args.config, decode=False))
    else:
        rows.append(_blank_row("megc2019", "casme2+samm+smic", "not configured"))
    _print_table(rows)
    _print_problems(rows)
    if all(settings[n].path is None for n in ROOT_NAMES):
        print(
            f"\nNo dataset root configured. Add a [roots] section to {config_path(args.config)}, e.g.\n"
            f'  [roots]\n  casme2 = "/data/CASME2"\nor set MIEX_CASME2_ROOT (MIEX_SAMM_ROOT, MIEX_SMIC_ROOT, ...).'
        )
    bad = any(_faults(r["problems"]) or r["found"] in ("missing", "error") for r in rows)
    return 1 if args.strict and bad else 0


def _blank_row(name: str, root: str, found: str, message: str = "") -> dict[str, Any]:
    from miex.datasets import Problem

    problems = [Problem(name, "", "missing_root", message)] if message else []
    return {"dataset": name, "root": root, "found": found, "clips": "-", "3class": "-", "subjects": "-", "problems": problems}


def _print_table(rows: list[dict[str, Any]]) -> None:
    headers = ["dataset", "root", "found", "clips", "3class", "subjects", "problems"]
    table = [[str(r[h]) if h != "problems" else str(len(_faults(r["problems"]))) for h in headers] for r in rows]
    for r in table:
        if len(r[1]) > 48:
            r[1] = "..." + r[1][-45:]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def _faults(problems: list) -> list:
    """The problems of a copy, without the documented quirks of the official data (notes)."""
    return [p for p in problems if not p.note]


def _print_problems(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        problems = row["problems"]
        if not problems:
            continue
        for p in problems:
            if p.note:
                print(f"\n{row['dataset']}: note: {p.clip}: {p.kind}: {p.message}")
        problems = _faults(problems)
        if not problems:
            continue
        kinds = Counter(p.kind for p in problems)
        summary = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
        print(f"\n{row['dataset']}: {summary}")
        if row.get("note"):
            print(f"  {row['note']}")
        for kind in kinds:
            examples = [p for p in problems if p.kind == kind]
            for p in examples[:EXAMPLES_PER_KIND]:
                clip = f"{p.dataset}/{p.clip}" if p.dataset != row["dataset"] else p.clip
                where = f"{clip}: " if p.clip else (f"{p.dataset}: " if p.dataset != row["dataset"] else "")
                print(f"  {kind}: {where}{p.message}")
            if len(examples) > EXAMPLES_PER_KIND:
                print(f"  {kind}: ... and {len(examples) - EXAMPLES_PER_KIND} more")


# ----------------------------------------------------------------------------- show
def show_handler(args: argparse.Namespace) -> int:
    from miex.datasets import canonical_name, load_dataset
    from miex.datasets.config import get_root

    name = canonical_name(args.name)
    scheme = args.scheme or ("native" if args.native else "3class")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "megc2019":
            if args.root:
                raise MiexError("megc2019 uses the casme2, samm and smic roots of the config; --root does not apply")
            from miex.datasets import Megc2019Composite

            ds = Megc2019Composite(config=args.config, label_scheme=scheme)
        else:
            root = args.root or (get_root(name, args.config) if name != "miex" else None)
            ds = load_dataset(name, root, label_scheme=scheme)
    print(repr(ds))
    counts = ds.samples["label"].value_counts().sort_index()
    print("classes: " + ", ".join(f"{ds.classes[i]}={n}" for i, n in counts.items()))
    if len(ds):
        view = ds.samples[["subject", "clip", "label", "native_label", "onset", "apex", "offset"]].head(args.n).copy()
        view["n_frames"] = ds.samples["frames"].head(args.n).map(len)
        print(view.to_string(index=False))
    problems = ds.problems
    if problems:
        kinds = Counter(p.kind for p in problems)
        print("problems: " + ", ".join(f"{n} {k}" for k, n in kinds.most_common()) + " (see `miex datasets check`)")
    return 0


# ----------------------------------------------------------------------------- crop
def crop_handler(args: argparse.Namespace) -> int:
    from miex.datasets import load_dataset
    from miex.datasets.crops import crop_dataset, default_crop_cache_dir
    from miex.errors import SkipLog

    skips = SkipLog()
    table = crop_dataset(load_dataset(args.name, args.root), args.method, args.size, frames=args.frames,
                         upsample=args.upsample, skips=skips)
    print(f"{args.name}: {len(table)} clip(s) cropped ({args.method}, {args.size} px) into "
          f"{default_crop_cache_dir()}; {skips.summary()}")
    return 0
