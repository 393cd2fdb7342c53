"""The MEGC2019 composite database ("CompMiE"): SMIC-HS + CASME II + SAMM, 3 classes, 68 subjects.

The clips and labels come from the official list ``combined_3class_gt.csv`` (shipped as package
data); onset/apex/offset, frames and AU codes come from the three datasets' own annotations.
With every clip present the composite has 442 samples:

=========  =======  ========  ===  ===  ===
Part       Samples  Subjects  neg  pos  sur
=========  =======  ========  ===  ===  ===
SMIC-HS    164      16        70   51   43
CASME II   145      24        88   32   25
SAMM       133      28        92   26   15
All        442      68        250  109  83
=========  =======  ========  ===  ===  ===
"""

from __future__ import annotations

import io
import warnings
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from miex.datasets.base import (
    SAMPLE_COLUMNS,
    MiexDataset,
    Problem,
    check_clip,
)
from miex.datasets.smic import smic_key
from miex.errors import MiexError

PARTS: tuple[str, ...] = ("smic", "casme2", "samm")
#: The counts table of the full composite: part -> (samples, subjects, negative, positive, surprise).
EXPECTED_COUNTS: dict[str, tuple[int, int, int, int, int]] = {
    "smic": (164, 16, 70, 51, 43),
    "casme2": (145, 24, 88, 32, 25),
    "samm": (133, 28, 92, 26, 15),
    "all": (442, 68, 250, 109, 83),
}


def official_list_path() -> Path:
    return Path(str(resources.files("miex") / "data" / "megc2019" / "combined_3class_gt.csv"))


def read_official_list(path: str | Path | None = None) -> pd.DataFrame:
    """The official list as a DataFrame: dataset, subject, filename (str), label (int)."""
    file = Path(path) if path is not None else official_list_path()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise MiexError(f"{file}: cannot read the MEGC2019 list: {exc.strerror or exc}") from None
    df = pd.read_csv(io.StringIO(text), header=None, dtype=str, names=["dataset", "subject", "filename", "label"])
    df = df.apply(lambda s: s.str.strip())
    bad = df[~df["dataset"].isin(PARTS) | ~df["label"].isin(["0", "1", "2"]) | df["filename"].isna()]
    if len(bad):
        raise MiexError(f"{file}: malformed rows {', '.join(str(i + 1) for i in bad.index[:5])}")
    df["label"] = df["label"].astype("int64")
    return df


class Megc2019Composite(MiexDataset):
    """The MEGC2019 composite built from the official list and three dataset copies.

    Roots left ``None`` are read from the dataset config; a part whose root is unavailable
    contributes no samples and one ``missing_clip`` problem per listed clip. ``samples`` has
    the standard columns (``dataset`` is the part's dataset, subjects are ``casme2/sub01``,
    ``samm/006``, ``smic/s1``) plus ``part``, ``list_subject``, ``list_filename``. Labels are the
    official list's. ``strict=True`` raises when a listed clip is missing.
    """

    name = "megc2019"
    THREE_CLASS_MAP: dict[str, int] = {}
    NATIVE_CLASSES: tuple[str, ...] = ()

    def __init__(
        self,
        casme2_root: str | Path | None = None,
        samm_root: str | Path | None = None,
        smic_root: str | Path | None = None,
        *,
        list_path: str | Path | None = None,
        smic_apex: str | float = "middle",
        casme2_variant: str = "auto",
        label_scheme: str = "3class",
        mode: str = "pair",
        transform: Callable[[dict], dict] | None = None,
        config: str | Path | None = None,
        strict: bool = False,
    ) -> None:
        if label_scheme != "3class":
            raise MiexError("the MEGC2019 composite has only the 3-class label scheme")
        if mode not in ("pair", "clip"):
            raise MiexError(f"mode must be pair or clip, got {mode!r}")
        from miex.datasets.casme2 import Casme2
        from miex.datasets.config import load_roots
        from miex.datasets.samm import Samm
        from miex.datasets.smic import SmicHS

        self.label_scheme = label_scheme
        self.mode = mode
        self.transform = transform
        self._problems: list[Problem] = []
        self.official = read_official_list(list_path)
        configured = load_roots(config)
        given = {"casme2": casme2_root, "samm": samm_root, "smic": smic_root}
        self.roots = {k: Path(v) if v is not None else configured.get(k) for k, v in given.items()}
        self.root = self.roots  # type: ignore[assignment]
        factories: dict[str, Callable[[Path], MiexDataset]] = {
            "casme2": lambda r: Casme2(r, label_scheme="native", variant=casme2_variant),
            "samm": lambda r: Samm(r, label_scheme="native"),
            "smic": lambda r: SmicHS(r, label_scheme="native", apex=smic_apex),
        }
        self.parts: dict[str, MiexDataset | None] = {}
        unavailable: dict[str, str] = {}
        for part in PARTS:
            root = self.roots[part]
            if root is None:
                unavailable[part] = f"no {part} root given or configured"
                self._problems.append(Problem(part, "", "missing_root", unavailable[part]))
                self.parts[part] = None
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.parts[part] = factories[part](root)
            except MiexError as exc:
                kind = "missing_root" if not Path(root).is_dir() else "missing_annotations"
                unavailable[part] = str(exc)
                self._problems.append(Problem(part, "", kind, str(exc)))
                self.parts[part] = None
        self.samples = self._assemble(unavailable)
        self.annotations = self.samples
        missing = [p for p in self._problems if p.kind in ("missing_clip", "missing_root", "missing_annotations")]
        if missing and strict:
            raise MiexError(
                f"MEGC2019 composite: {len(self.samples)}/{len(self.official)} listed clips found; "
                f"first problem: {missing[0]}"
            )
        if missing:
            warnings.warn(
                f"megc2019: {len(self.official) - len(self.samples)} of {len(self.official)} listed clips not found; "
                "see .validate()",
                stacklevel=2,
            )

    # ------------------------------------------------------------------ assembly
    def _assemble(self, unavailable: dict[str, str]) -> pd.DataFrame:
        lookup: dict[str, dict[Any, dict[str, Any]]] = {}
        part_problems: dict[str, dict[str, list[Problem]]] = {}
        for part, ds in self.parts.items():
            if ds is None:
                continue
            lookup[part] = {
                _part_key(part, rec["subject"].split("/", 1)[1], rec["clip"]): rec
                for rec in ds.annotations.to_dict("records")
            }
            by_clip: dict[str, list[Problem]] = {}
            for p in ds.problems:
                if p.clip:
                    by_clip.setdefault(p.clip, []).append(p)
                else:
                    self._problems.append(p)
            part_problems[part] = by_clip
        rows = []
        for item in self.official.itertuples(index=False):
            part = item.dataset
            local_subject, local_key = _local_names(part, item.subject, item.filename)
            if part in unavailable:
                self._problems.append(Problem(part, local_key, "missing_clip", f"listed clip not available: {unavailable[part]}"))
                continue
            rec = lookup[part].get(_part_key(part, local_subject, local_key.split("/", 1)[1]))
            if rec is None:
                known = part_problems[part].get(local_key, [])
                if known:
                    self._problems.extend(known)
                    if not any(p.kind in ("missing_clip", "empty_clip") for p in known):
                        self._problems.append(
                            Problem(part, local_key, "missing_clip", "listed clip unusable: its annotation row was skipped")
                        )
                else:
                    root = self.roots[part]
                    what = "no clip folder" if part == "smic" else "no annotation row"
                    self._problems.append(
                        Problem(part, local_key, "missing_clip", f"listed in the official list; {what} for it under {root}")
                    )
                continue
            self._problems.extend(p for p in part_problems[part].get(local_key, []) if p.kind == "missing_apex")
            if rec["label3"] != item.label:
                self._problems.append(
                    Problem(
                        part,
                        local_key,
                        "label_mismatch",
                        f"official label {item.label} but the annotation says {rec['native_label']!r} "
                        f"(3-class {rec['label3']}); using the official label",
                    )
                )
            row = {c: rec[c] for c in SAMPLE_COLUMNS if c != "label"}
            row["label"] = int(item.label)
            row["part"] = part
            row["list_subject"] = item.subject
            row["list_filename"] = item.filename
            rows.append(row)
        columns = list(SAMPLE_COLUMNS) + ["part", "list_subject", "list_filename"]
        df = pd.DataFrame.from_records(rows, columns=columns)
        for col in ("label", "onset", "apex", "offset"):
            df[col] = df[col].astype("int64")
        return df

    # ------------------------------------------------------------------ public API
    def validate(self, *, decode: bool = True) -> list[Problem]:
        problems = list(self._problems)
        for row in self.samples.to_dict("records"):
            problems.extend(check_clip(row["dataset"], row, decode=decode))
        return problems

    def counts(self) -> pd.DataFrame:
        """The per-part counts table (samples, subjects, negative, positive, surprise) of ``samples``."""
        return counts_table(self.samples)

    def __repr__(self) -> str:
        return f"Megc2019Composite(samples={len(self)}/{len(self.official)}, subjects={self.samples['subject'].nunique()})"


def counts_table(samples: pd.DataFrame) -> pd.DataFrame:
    """Rows smic, casme2, samm, all; columns samples, subjects, negative, positive, surprise."""
    out = {}
    for part in (*PARTS, "all"):
        df = samples if part == "all" else samples[samples["part"] == part]
        counts = df["label"].value_counts()
        out[part] = {
            "samples": len(df),
            "subjects": df["subject"].nunique(),
            "negative": int(counts.get(0, 0)),
            "positive": int(counts.get(1, 0)),
            "surprise": int(counts.get(2, 0)),
        }
    return pd.DataFrame.from_dict(out, orient="index")


def _local_names(part: str, subject: str, filename: str) -> tuple[str, str]:
    """Official list names -> (subject folder, ``"<subject folder>/<clip folder>"``)."""
    if part == "samm":
        folder = f"{int(subject):03d}" if subject.isdigit() else subject
        return folder, f"{folder}/{filename}"
    if part == "smic":
        key = smic_key(subject)
        n = key[0] if key else subject
        clip_key = smic_key(filename)
        clip = f"s{clip_key[0]}_{clip_key[1]}" if clip_key else filename
        return f"s{n}", f"s{n}/{clip}"
    return subject, f"{subject}/{filename}"


def _part_key(part: str, local_subject: str, clip: str) -> Any:
    if part == "smic":
        return smic_key(clip) or clip.lower()
    return (local_subject, clip)
