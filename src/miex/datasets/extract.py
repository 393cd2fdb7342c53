"""AU tables from real clips (``miex aus extract``) and the z^MiE / z^MaE pools made from them.

Two steps, two subcommands (pool building is separate so that pools can combine several
extractions, e.g. CK+ and Oulu-CASIA for z^MaE; ``miex aus extract --pool ...`` runs both at once):

``extract_dataset(dataset, out, ...)``  -> ``OUT/<dataset>/<subject>/<clip>.csv`` + ``OUT/<dataset>/index.csv``
``build_pools(clips, kind, ...)``       -> ``POOL_OUT/pool_fold<f>.parquet`` (or ``pool.parquet``)

Per-clip AU tables
------------------
One CSV per clip in the AU-table shape of ``docs/INTERFACES.md``: ``frame`` (the dataset's
native frame number, e.g. 46 for ``img46.jpg``) then ``AU01 … AU45`` (z in [0, 1]). The file is
``OUT/<dataset>/<subject>/<clip>.csv``: CASME II reuses clip names across subjects
(``EP02_01f`` exists for several), so the subject folder keeps them apart. For the MEGC2019
composite the subject folder is dataset-qualified (``OUT/megc2019/casme2/sub01/EP02_01f.csv``).
Only the samples of the 3-class scheme are extracted (``dataset.samples``).

``OUT/<dataset>/index.csv`` has the columns ``clip, subject, label, dataset, onset, apex,
offset, csv`` (``csv`` relative to ``OUT/<dataset>``): exactly what ``miex aus sample --source
mie|mae --csv-dir OUT/<dataset> --index OUT/<dataset>/index.csv`` and ``miex aus pools`` read.
``label`` is the emotion word where it means the same 3-class label everywhere (``disgust``,
``happiness``, ...), else the 3-class number. ``OUT/<dataset>/extract.json`` records the
settings; a second run with the same settings reuses the CSVs already written (resume),
other settings need ``overwrite=True`` (``--overwrite``).

Sources
-------
OpenFace CSVs the user already has (``openface_dir``)
    The CSV of a clip is looked up in this order (``<subject>`` is the dataset's subject folder,
    ``sub01``, ``006``, ``s1``, ``S005``; ``<clip>`` the clip name, ``EP02_01f``; ``<folder>`` the
    clip's frame folder name when it differs from the clip name, e.g. CK+ ``001``)::

        <dataset>/<subject>/<clip>.csv   <subject>/<clip>.csv   <subject>_<clip>.csv
        <subject>/<folder>.csv           <clip>.csv             <folder>.csv

    The last two are used only when that name is unique in the dataset (CASME II clip names are
    not). OpenFace numbers the frames of an image folder 1..n in its own order: ``-fdir`` sorts
    the file names as strings (``img100.jpg`` before ``img46.jpg``): ``openface_order="lexical"``
    (default). Use ``"numeric"`` when the frames were fed in numeric order (a video made from
    them, renamed files). OpenFace frame k is mapped to the native frame number of the k-th
    file in that order; a CSV with fewer rows than the folder has frames, or frames beyond it,
    is rejected as not made from this folder. Rows with ``success == 0`` or a confidence below
    ``min_confidence`` are dropped (:func:`miex.au.openface.read_openface_csv`). All frames of
    the clip are kept (OpenFace intensities are absolute).
The built-in landmark estimator (:func:`miex.au.estimate.estimate_clip`, the default)
    Micro-expression datasets: only the frames from the onset to the offset (to the apex when
    an annotation puts the apex after the offset), with the onset frame as the neutral
    reference. Macro-expression datasets (CK+, Oulu-CASIA, the MMEW and CAS(ME)^3 macro parts):
    every frame, the first one neutral. A clip whose onset/first frame has no face is skipped (no neutral
    reference, checked first); other frames without a face are left out of the table (the
    estimator names each on stderr). The method is ``method`` (``--method 3d|2d``, default the
    3D fit); the tables carry the estimator's ``confidence`` and ``success`` columns, which
    ``min_confidence`` filters when the pools read them. Intensities are relative to the
    onset/first frame (``reference="first"``; see the README, "AU estimation").

A bad clip (no CSV, unreadable CSV, CSV not matching the folder, no face, missing onset frame)
is reported on one line naming it and skipped; a summary follows.

Pools
-----
``kind="mie"``: :class:`miex.au.sources.MiESource` (onset and annotated apex, each pair reused
``reuse`` times). ``kind="mae"``: :class:`miex.au.sources.MaESource` (first frame and a random
frame in [floor(alpha n), floor(beta n)]). With a fold file (CSV ``subject,fold`` as for
``miex synth --fold-file``; ``fold`` = the fold in which that subject is a *test* subject), one
pool per fold, ``pool_fold<f>.parquet``, built only from the clips of subjects that are not
test subjects of fold f (leakage-free); ``exclude_subjects`` are left out of every pool. Without
a fold file, one ``pool.parquet``. Each pool's randomness is ``rng(seed, "aus", "pool", kind,
fold)``: the same arguments give byte-identical files.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from miex.au.space import AU_NAMES
from miex.errors import InputError, MiexError, SkipLog
from miex.subjects import local_id as local_subject
from miex.subjects import require_qualified

#: Columns of ``index.csv`` (the clip-index format of ``miex aus sample``).
INDEX_COLUMNS: tuple[str, ...] = ("clip", "subject", "label", "dataset", "onset", "apex", "offset", "csv")
OPENFACE_ORDERS: tuple[str, ...] = ("lexical", "numeric")
POOL_KINDS: tuple[str, ...] = ("mie", "mae")
#: Datasets whose clips are macro-expressions (MMEW and CAS(ME)^3 only with ``part="macro"``).
MACRO_DATASETS: frozenset[str] = frozenset({"ckplus", "oulu"})
EXTRACT_VERSION = 1
_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def is_macro(dataset) -> bool:
    """True for macro-expression datasets (CK+, Oulu-CASIA, the macro parts of MMEW and CAS(ME)^3)."""
    name = getattr(dataset, "name", str(dataset))
    return name in MACRO_DATASETS or getattr(dataset, "part", "micro") == "macro"


@dataclass(frozen=True)
class ExtractSettings:
    """What determines the AU tables (recorded in ``extract.json``)."""

    source: str  # "openface" | "estimator"
    openface_dir: str = ""
    openface_order: str = "lexical"
    min_confidence: float | None = None
    upsample: int = 1
    method: str = "3d"  # estimator method (miex.au.estimate.METHODS)
    detect: str = "track"  # estimator face detection (miex.au.tracking.DETECT_MODES)
    version: int = EXTRACT_VERSION

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.source == "openface":
            for k in ("upsample", "method", "detect"):
                d.pop(k)
        else:
            for k in ("openface_dir", "openface_order", "min_confidence"):
                d.pop(k)
        return d


# --------------------------------------------------------------------------------------------
# helpers


def _safe(name: str) -> str:
    text = _SAFE.sub("_", str(name)).strip("._") or "_"
    return text


def csv_relpath(row: pd.Series | dict, name: str) -> str:
    """Where a clip's AU table goes, relative to ``OUT/<name>`` (``sub01/EP02_01f.csv``)."""
    parts = [_safe(local_subject(row["subject"])), _safe(row["clip"]) + ".csv"]
    if str(row["dataset"]) != name:
        parts.insert(0, _safe(row["dataset"]))
    return "/".join(parts)


def clip_key(row: pd.Series | dict) -> str:
    """``casme2/sub01/EP02_01f``: how a clip is named in messages."""
    return f"{row['dataset']}/{local_subject(row['subject'])}/{row['clip']}"


def index_label(row: pd.Series | dict) -> str:
    """The index ``label`` cell: the emotion word when it parses to the sample's label, else the number."""
    from miex.au.sources import EMOTION_LABELS

    word = str(row.get("native_label", "")).strip().lower()
    if word and EMOTION_LABELS.get(word) == int(row["label"]):
        return word
    return str(int(row["label"]))


def _frame_numbers(paths: Sequence[str]) -> list[int | None]:
    from miex.datasets.base import frame_number

    return [frame_number(p) for p in paths]


def au_table_csv(table: pd.DataFrame) -> str:
    """An AU table as CSV text (``frame`` int, AUs with 6 decimals)."""
    extra = [c for c in ("confidence", "success") if c in table.columns]
    out = table[["frame", *AU_NAMES, *extra]].copy()
    out["frame"] = out["frame"].astype(np.int64)
    return out.to_csv(index=False, float_format="%.6f", lineterminator="\n")


# --------------------------------------------------------------------------------------------
# OpenFace source


def find_openface_csv(
    openface_dir: str | os.PathLike[str],
    row: pd.Series | dict,
    *,
    clip_counts: Counter | None = None,
    folder_counts: Counter | None = None,
) -> Path:
    """The OpenFace CSV of a clip (see the module docstring for the names tried).

    ``clip_counts``/``folder_counts``: how often each clip / folder name occurs in the dataset;
    bare names are used only when unique. Raises :class:`InputError` naming the clip.
    """
    base = Path(openface_dir)
    subject = local_subject(row["subject"])
    clip = str(row["clip"])
    frames = list(row["frames"])
    folder = Path(frames[0]).parent.name if frames else clip
    tried: list[str] = [f"{row['dataset']}/{subject}/{clip}.csv", f"{subject}/{clip}.csv", f"{subject}_{clip}.csv"]
    if folder != clip:
        tried.append(f"{subject}/{folder}.csv")
    bare = [(clip, clip_counts), (folder, folder_counts)] if folder != clip else [(clip, clip_counts)]
    for name in tried:
        if (base / name).is_file():
            return base / name
    for name, counts in bare:
        path = base / f"{name}.csv"
        if path.is_file():
            if counts is not None and counts[name] > 1:
                raise InputError(
                    clip_key(row),
                    f"OpenFace CSV {path.name} in {base} is ambiguous: {counts[name]} clips of the dataset share "
                    f"the name {name!r}; name it {subject}_{clip}.csv or {subject}/{clip}.csv",
                )
            return path
        tried.append(f"{name}.csv")
    raise InputError(clip_key(row), f"no OpenFace CSV in {base} (looked for {', '.join(tried)})")


def openface_frame_order(paths: Sequence[str], order: str = "lexical") -> list[str]:
    """The frame files in the order OpenFace numbered them 1..n (see the module docstring)."""
    if order == "lexical":
        return sorted(paths, key=lambda p: Path(p).name)
    if order == "numeric":
        from miex.datasets.base import natural_key

        return sorted(paths, key=natural_key)
    raise MiexError(f"OpenFace frame order must be one of {', '.join(OPENFACE_ORDERS)}, got {order!r}")


def openface_table(
    csv_path: str | os.PathLike[str],
    frames: Sequence[str],
    *,
    order: str = "lexical",
    min_confidence: float | None = None,
) -> pd.DataFrame:
    """An OpenFace CSV of a clip folder as an AU table with the dataset's native frame numbers."""
    from miex.au.openface import DEFAULT_MIN_CONFIDENCE, read_openface_csv

    threshold = DEFAULT_MIN_CONFIDENCE if min_confidence is None else float(min_confidence)
    table = read_openface_csv(csv_path, min_confidence=threshold)
    if table.attrs.get("mode") != "video":
        raise InputError(csv_path, "not a FeatureExtraction CSV (no frame column); run OpenFace with -fdir on the clip folder")
    ordered = openface_frame_order(list(frames), order)
    n_files, n_rows = len(ordered), int(table.attrs.get("rows", len(table)))
    last = int(table["frame"].max()) if len(table) else 0
    if n_rows < n_files or last > n_files or int(table["frame"].min() if len(table) else 1) < 1:
        folder = Path(ordered[0]).parent if ordered else "?"
        raise InputError(
            csv_path,
            f"{n_rows} rows (frames up to {last}) for the {n_files} frames of {folder}; "
            "was OpenFace run on this clip folder?",
        )
    numbers = _frame_numbers(ordered)
    native = [numbers[int(k) - 1] for k in table["frame"]]
    if any(n is None for n in native):
        raise InputError(csv_path, "frame file names have no number to map OpenFace frames to")
    out = table.copy()
    out["frame"] = np.asarray(native, dtype=np.int64)
    out = out.sort_values("frame", kind="stable").reset_index(drop=True)
    if out["frame"].duplicated().any():
        raise InputError(csv_path, "two frame files of the clip have the same frame number")
    out.attrs.update(table.attrs)
    return out


# --------------------------------------------------------------------------------------------
# estimator source


def estimator_frames(row: pd.Series | dict, macro: bool) -> list[str]:
    """The frames the estimator reads: every frame (macro) or onset..max(offset, apex) (micro),
    sorted by frame number; the first one is the neutral reference. Raises :class:`InputError`
    when the onset frame file is missing."""
    frames = list(row["frames"])
    numbers = _frame_numbers(frames)
    if not frames:
        raise InputError(clip_key(row), "clip has no frames")
    if macro:
        return frames
    onset, apex, offset = int(row["onset"]), int(row["apex"]), int(row["offset"])
    if onset not in numbers:
        raise InputError(Path(frames[0]).parent, f"onset frame {onset} is not in the clip folder (missing frame)")
    hi = max(offset, apex)
    return [f for f, n in zip(frames, numbers) if n is not None and onset <= n <= hi]


def estimator_table(
    row: pd.Series | dict, macro: bool, detector=None, method: str | None = None, detect: str | None = None
) -> pd.DataFrame:
    """The landmark estimator's AU table of one clip (neutral = onset, or first frame for macro).

    A clip whose neutral frame has no face raises :class:`InputError` naming that frame (its
    frames are decoded once; ``detect``: see :func:`miex.au.estimate.estimate_clip`). Other
    frames without a face are named on stderr and left out."""
    return _estimator_table(row, macro, detector, method, detect, None)


def _estimator_table(row, macro: bool, detector, method: str | None, detect: str | None, skips: SkipLog | None) -> pd.DataFrame:
    from miex.au.estimate import estimate_clip

    paths = estimator_frames(row, macro)
    try:
        return estimate_clip(
            paths, detector=detector, method=method, reference="first", detect=detect, require_first=True, skips=skips
        )
    except InputError as exc:
        if Path(exc.path) != Path(paths[0]):
            raise
        raise InputError(exc.path, f"{exc.reason} in the neutral reference frame (onset or first frame)") from None


# --------------------------------------------------------------------------------------------
# extraction


def _check_settings(base: Path, settings: ExtractSettings, overwrite: bool) -> bool:
    """True when CSVs already in ``base`` may be reused."""
    meta = base / "extract.json"
    if not meta.is_file():
        return False
    try:
        old = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if isinstance(old, dict) and old.get("source") == "estimator":
        old.setdefault("detect", "every")  # tables written before tracking detected every frame
    if old == settings.as_dict():
        return not overwrite
    if not overwrite:
        raise MiexError(
            f"{base} holds AU tables made with other settings ({meta}); "
            "use --overwrite to replace them or choose another --out"
        )
    return False


@dataclass
class ClipOutcome:
    """What extracting one clip gave: its AU table as CSV text, or the reason it was skipped
    (``(where, reason)``), and the frames dropped on the way (``(frame, reason)`` each)."""

    csv: str | None = None
    error: tuple[str, str] | None = None
    frame_skips: list[tuple[str, str]] | None = None


def _clip_row(row: pd.Series | dict) -> dict[str, Any]:
    """The fields of a sample row that extracting and indexing it need (small, for the workers)."""
    keys = ("clip", "subject", "dataset", "onset", "apex", "offset", "label")
    return {**{k: row[k] for k in keys}, "native_label": row.get("native_label", ""), "frames": [str(f) for f in row["frames"]]}


def _with_rows(table: pd.DataFrame, row: dict) -> pd.DataFrame:
    if table.empty:
        raise InputError(clip_key(row), "no usable AU rows (every frame dropped)")
    return table


def _where(row: dict, exc: InputError) -> str:
    return exc.path if exc.path.startswith(clip_key(row)) else f"{clip_key(row)}: {exc.path}"


def estimate_outcome(row: dict, *, macro: bool, detector, method: str, detect: str) -> ClipOutcome:
    """The built-in estimator on one clip (runs in a worker): never raises for a bad clip."""
    frames = SkipLog(echo=False)
    try:
        table = _with_rows(_estimator_table(row, macro, detector, method, detect, frames), row)
    except InputError as exc:
        return ClipOutcome(error=(_where(row, exc), exc.reason), frame_skips=frames.items)
    return ClipOutcome(csv=au_table_csv(table), frame_skips=frames.items)


def _openface_outcome(row: dict, openface_dir, order: str, min_confidence, counts: tuple[Counter, Counter]) -> ClipOutcome:
    try:
        source = find_openface_csv(openface_dir, row, clip_counts=counts[0], folder_counts=counts[1])
        table = _with_rows(openface_table(source, list(row["frames"]), order=order, min_confidence=min_confidence), row)
    except InputError as exc:
        return ClipOutcome(error=(_where(row, exc), exc.reason))
    return ClipOutcome(csv=au_table_csv(table))


def _index_record(row: pd.Series | dict, rel: str) -> dict[str, Any]:
    return {
        "clip": str(row["clip"]),
        "subject": local_subject(row["subject"]),
        "label": index_label(row),
        "dataset": str(row["dataset"]),
        "onset": int(row["onset"]),
        "apex": int(row["apex"]),
        "offset": int(row["offset"]),
        "csv": rel,
    }


def extract_dataset(
    dataset,
    out: str | os.PathLike[str],
    *,
    openface_dir: str | os.PathLike[str] | None = None,
    openface_order: str = "lexical",
    min_confidence: float | None = None,
    upsample: int = 1,
    detector=None,
    method: str | None = None,
    detect: str | None = None,
    workers: int = 1,
    ray: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    skips: SkipLog | None = None,
) -> pd.DataFrame:
    """Write the per-clip AU tables and ``index.csv`` of a dataset under ``OUT/<dataset name>``.

    ``dataset``: a :class:`~miex.datasets.MiexDataset` (or a name for
    :func:`~miex.datasets.load_dataset`). ``openface_dir``: read OpenFace CSVs from there,
    else run the landmark estimator (``upsample``/``detector`` for its face detector,
    ``detect``: ``"track"`` (default) or ``"every"`` frame, see :mod:`miex.au.tracking`).
    ``workers``/``ray``: estimate clips in that many local processes or on a Ray cluster
    (:func:`miex.parallel.run_tasks`; ``ray`` = ``"local"`` or an address); the files are the
    same bytes either way and are written by this process, in dataset order. Returns the index
    DataFrame (:data:`INDEX_COLUMNS`); ``attrs``: ``index`` (its path), ``reused`` (clips whose
    CSV was already there), ``skips`` (``(name, reason)`` of each skipped clip).
    """
    from functools import partial

    from tqdm import tqdm

    from miex.datasets import load_dataset
    from miex.io import write_json, write_text
    from miex.parallel import check_workers, in_order, run_tasks

    if isinstance(dataset, str):
        dataset = load_dataset(dataset)
    if openface_order not in OPENFACE_ORDERS:
        raise MiexError(f"OpenFace frame order must be one of {', '.join(OPENFACE_ORDERS)}, got {openface_order!r}")
    if openface_dir is not None and not Path(openface_dir).is_dir():
        raise MiexError(f"{openface_dir}: OpenFace CSV folder not found")
    workers = check_workers(workers)
    name = dataset.name
    base = Path(out) / name
    if openface_dir is not None:
        settings = ExtractSettings("openface", str(Path(openface_dir).resolve()), openface_order, min_confidence)
    else:
        from miex.au.estimate import check_method
        from miex.au.tracking import check_detect

        settings = ExtractSettings(
            "estimator",
            upsample=int(detector.upsample if detector is not None else upsample),
            method=check_method(method),
            detect=check_detect(detect),
        )
    reuse = _check_settings(base, settings, overwrite)
    skips = skips if skips is not None else SkipLog()
    rows = [_clip_row(r) for _, r in dataset.samples.iterrows()]
    rels = [csv_relpath(row, name) for row in rows]
    todo = [i for i, rel in enumerate(rels) if not (reuse and (base / rel).is_file())]
    if openface_dir is not None:
        counts = (Counter(str(r["clip"]) for r in rows), Counter(Path(r["frames"][0]).parent.name for r in rows if r["frames"]))
        one = partial(_openface_outcome, openface_dir=openface_dir, order=openface_order, min_confidence=min_confidence, counts=counts)
        outcomes = ((k, one(rows[i])) for k, i in enumerate(todo))
    else:
        from miex.faces import FaceDetector

        det = detector if detector is not None else FaceDetector(upsample=settings.upsample)
        one = partial(estimate_outcome, macro=is_macro(dataset), detector=det, method=settings.method, detect=settings.detect)
        outcomes = run_tasks(one, [rows[i] for i in todo], workers=workers, ray=ray)

    bar = tqdm(total=len(rows), desc=f"AUs {name}", unit="clip", disable=None if progress else True)
    bar.update(len(rows) - len(todo))
    done: set[int] = set()
    dropped_frames = SkipLog()  # named on stderr as estimate_clip does; the summary counts clips
    with bar:
        for k, outcome in in_order(_counted(outcomes, bar)):
            i = todo[k]
            for frame, reason in outcome.frame_skips or ():
                dropped_frames.add(frame, reason)
            if outcome.error is not None:
                skips.add(*outcome.error)
                continue
            write_text(base / rels[i], outcome.csv)
            done.add(i)
    skipped = set(todo) - done
    kept = [i for i in range(len(rows)) if i not in skipped]
    index = pd.DataFrame([_index_record(rows[i], rels[i]) for i in kept], columns=list(INDEX_COLUMNS))
    index_path = base / "index.csv"
    base.mkdir(parents=True, exist_ok=True)
    write_json(base / "extract.json", settings.as_dict())
    write_text(index_path, index.to_csv(index=False, lineterminator="\n"))
    index.attrs.update(index=str(index_path), reused=len(rows) - len(todo), skips=list(skips.items), problems=len(dataset.problems))
    return index


def _counted(results: Iterable, bar) -> Iterable:
    for item in results:
        bar.update(1)
        yield item


# --------------------------------------------------------------------------------------------
# pools


def read_folds(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A fold file (CSV ``subject,fold``; ``fold`` = the fold where the subject is tested)."""
    from miex.synth.lists import read_fold_file

    return read_fold_file(path)


def _fold_name(fold: str) -> str:
    return _safe(str(fold))


def build_pools(
    clips: Sequence,
    kind: str,
    out_dir: str | os.PathLike[str],
    *,
    per_class: int = 5000,
    seed: int = 0,
    folds: pd.DataFrame | None = None,
    exclude_subjects: Iterable[str] = (),
    alpha: float = 0.3,
    beta: float = 0.5,
    reuse: int = 5,
    skips: SkipLog | None = None,
) -> dict[str, Path]:
    """Write z^MiE (``kind="mie"``) or z^MaE (``"mae"``) pools from :class:`~miex.au.sources.Clip`
    objects: ``pool_fold<f>.parquet`` per fold of ``folds`` (columns ``subject, fold``), else
    ``pool.parquet``. Returns ``{fold or "all": path}``.

    Clips unusable for the source (annotated frame missing from the AU table, ...) are logged to
    ``skips`` once. A fold whose training subjects lack a class raises :class:`MiexError`
    naming the fold (after the other folds are written).
    """
    from miex.au.pool import write_pool
    from miex.au.sources import MaESource, MiESource
    from miex.seeding import rng

    if kind not in POOL_KINDS:
        raise MiexError(f"pool kind must be one of {', '.join(POOL_KINDS)}, got {kind!r}")
    if int(per_class) < 1:
        raise MiexError(f"--per-class must be >= 1, got {per_class}")

    def make(selected: Sequence, exclude: Iterable[str], log: SkipLog | None):
        if kind == "mie":
            return MiESource(selected, reuse=reuse, exclude_subjects=exclude, skips=log)
        return MaESource(selected, alpha=alpha, beta=beta, exclude_subjects=exclude, skips=log)

    # validate every clip once, so a bad clip is reported once, not once per fold
    probe = make(clips, (), skips if skips is not None else SkipLog())
    usable_ids = {id(pair.clip) for pairs in probe.by_class.values() for pair in pairs}
    usable = [c for c in clips if id(c) in usable_ids]
    if not usable:
        raise MiexError(f"no usable clips for a {kind} pool")
    extra = {require_qualified(s, where="exclude_subjects") for s in exclude_subjects if str(s).strip()}
    subjects = sorted({c.qualified_subject for c in usable})

    plan: list[tuple[str, set[str], Path]] = []
    out_dir = Path(out_dir)
    if folds is None or len(folds) == 0:
        plan.append(("all", set(), out_dir / "pool.parquet"))
    else:
        listed = set(folds["subject"])
        if not listed & set(subjects):
            raise MiexError(
                "no subject of the fold file matches a clip subject "
                f"(fold file: {', '.join(sorted(listed)[:3])}, ...; clips: {', '.join(subjects[:3])}, ...); "
                "use dataset-qualified subjects such as casme2/sub01"
            )
        for fold, part in folds.groupby("fold", sort=True):
            plan.append((str(fold), set(part["subject"]), out_dir / f"pool_fold{_fold_name(fold)}.parquet"))

    written: dict[str, Path] = {}
    failures: list[str] = []
    for fold, test, path in plan:
        exclude = test | extra
        try:
            source = make(usable, exclude, None)
            pool = source.sample(int(per_class), rng(int(seed), "aus", "pool", kind, fold))
        except MiexError as exc:
            failures.append(f"fold {fold}: {exc}" if fold != "all" else str(exc))
            continue
        leaked = sorted(set(pool["au_subject"]) & exclude)
        if leaked:  # pragma: no cover - guarded by the sources' exclusion
            raise MiexError(f"fold {fold}: excluded subjects {', '.join(leaked)} reached the pool")
        write_pool(pool, path)
        written[fold] = path
    if failures:
        done = f"; wrote {', '.join(str(p) for p in written.values())}" if written else ""
        raise MiexError("; ".join(failures) + done)
    return written


def clips_from_extraction(
    index: pd.DataFrame | str | os.PathLike[str],
    csv_dir: str | os.PathLike[str] | None = None,
    *,
    skips: SkipLog | None = None,
) -> list:
    """The :class:`~miex.au.sources.Clip` objects of an extraction's ``index.csv`` (CSV folder =
    the index's folder unless ``csv_dir``)."""
    from miex.au.sources import clips_from_index

    if isinstance(index, pd.DataFrame):
        path = Path(index.attrs["index"])
    else:
        path = Path(index)
    return clips_from_index(path, csv_dir if csv_dir is not None else path.parent, skips=skips)


__all__ = [
    "ExtractSettings",
    "INDEX_COLUMNS",
    "MACRO_DATASETS",
    "OPENFACE_ORDERS",
    "POOL_KINDS",
    "build_pools",
    "clip_key",
    "clips_from_extraction",
    "csv_relpath",
    "estimator_frames",
    "ClipOutcome",
    "au_table_csv",
    "estimate_outcome",
    "estimator_table",
    "extract_dataset",
    "find_openface_csv",
    "index_label",
    "is_macro",
    "openface_frame_order",
    "openface_table",
    "read_folds",
]
