"""The common interface of miex's real and synthetic datasets (think ``torchvision.datasets``).

A dataset parses its annotations once, at construction, into two DataFrames:

- ``annotations``: every clip that was parsed and found on disk, whatever its emotion, with
  ``label3`` (the 3-class label, -1 when the emotion is outside the 3-class scheme) and
  ``native_index`` (index into :attr:`MiexDataset.NATIVE_CLASSES`, -1 when outside).
- ``samples``: the clips of the chosen label scheme, with the columns of :data:`SAMPLE_COLUMNS`
  first (``label`` is the 3-class or the native class index).

Construction never crashes on a bad row, a missing clip folder or a missing frame: the row is
skipped (or kept, for frame-level problems) and a :class:`Problem` is recorded.
:meth:`MiexDataset.validate` adds the frame-level checks and returns every problem.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from miex.errors import InputError, MiexError
from miex.subjects import local_id, make_subject

#: Columns every ``samples`` DataFrame starts with, in this order.
SAMPLE_COLUMNS: tuple[str, ...] = (
    "dataset",
    "subject",
    "clip",
    "label",
    "native_label",
    "onset",
    "apex",
    "offset",
    "frames",
    "aus",
)
#: 3-class names (MEGC2019 / MiE-X).
THREE_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")
LABEL_SCHEMES = ("3class", "native")
MODES = ("pair", "clip")
#: Columns (normalised headers) every coding spreadsheet must have (:meth:`MiexDataset._sheet_records`).
SHEET_COLUMNS: tuple[str, ...] = ("subject", "filename", "onsetframe", "apexframe", "offsetframe", "estimatedemotion")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})

_DIGITS = re.compile(r"\d+")


# --------------------------------------------------------------------------- problems
@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset copy.

    ``clip`` is ``"<subject folder>/<clip>"`` (for example ``sub04/EP12_01f``), or ``""`` for
    problems of the whole dataset. ``kind`` is one of :data:`PROBLEM_KINDS`.
    """

    dataset: str
    clip: str
    kind: str
    message: str
    #: True for a documented quirk of the official data (``KNOWN_QUIRKS``): reported as a note,
    #: not a problem of the user's copy (``miex datasets check --strict`` passes).
    note: bool = False

    def __str__(self) -> str:
        where = f"{self.dataset}/{self.clip}" if self.clip else self.dataset
        return f"{where}: {self.kind}: {self.message}"


PROBLEM_KINDS: dict[str, str] = {
    "missing_root": "the dataset root folder does not exist",
    "missing_annotations": "the annotation file or folder was not found or cannot be read",
    "malformed_row": "an annotation row could not be parsed (skipped)",
    "missing_apex": "the annotated apex is not a frame number (CASME II '/')",
    "missing_clip": "a clip folder is not on disk (skipped)",
    "empty_clip": "a clip folder holds no frames (skipped)",
    "missing_frame": "an annotated onset/apex/offset frame file is not in the clip folder",
    "frame_order": "onset <= apex <= offset is violated",
    "unreadable_frame": "a frame file cannot be decoded",
    "label_mismatch": "the official list and the annotation disagree on the label",
    "duplicate": "the same clip is annotated twice (later rows skipped)",
    "error": "the dataset could not be loaded (unexpected error; reported by `miex datasets check`)",
}


def problems_frame(problems: Iterable[Problem]) -> pd.DataFrame:
    """Problems as a DataFrame with columns dataset, clip, kind, message."""
    rows = [(p.dataset, p.clip, p.kind, p.message) for p in problems]
    return pd.DataFrame(rows, columns=["dataset", "clip", "kind", "message"])


# --------------------------------------------------------------------------- frames
def natural_key(path: str | Path) -> tuple:
    """Sort key of a frame file: the numbers in its stem, numerically (``img9`` before ``img10``)."""
    stem = Path(path).stem
    return (tuple(int(d) for d in _DIGITS.findall(stem)), stem)


def frame_number(path: str | Path) -> int | None:
    """The native frame number of a frame file: the last run of digits in its stem."""
    found = _DIGITS.findall(Path(path).stem)
    return int(found[-1]) if found else None


def list_frames(folder: str | Path) -> list[str]:
    """Image files of a clip folder, sorted by their numeric part (never lexically)."""
    folder = Path(folder)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    files = [
        p
        for p in entries
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    ]
    return [str(p) for p in sorted(files, key=natural_key)]


def frame_file(frames: Sequence[str], number: int) -> str:
    """The file of native frame ``number`` among a clip's ``frames``; the nearest frame when it is
    not on disk (``validate()`` reports such clips as ``missing_frame``, and training warns)."""
    frames = list(frames)
    if not frames:
        raise MiexError("clip has no frames")
    numbers = [frame_number(f) for f in frames]
    if number in numbers:
        return frames[numbers.index(number)]
    valid = [(abs(n - number), i) for i, n in enumerate(numbers) if n is not None]
    return frames[min(valid)[1]] if valid else frames[0]


def clip_files(row: Mapping[str, Any]) -> list[str]:
    """A samples row's frames from onset to offset (inclusive, by frame number); all frames when
    that range is empty or the row has no offset."""
    frames = list(row["frames"])
    try:
        lo, hi = int(row["onset"]), int(row["offset"])
    except (KeyError, TypeError, ValueError):
        return frames
    inside = [f for f in frames if (n := frame_number(f)) is not None and lo <= n <= hi]
    return inside or frames


def read_frame(path: str | Path) -> np.ndarray:
    """Read a frame as (H, W, 3) uint8 RGB; gray and RGBA become RGB. Raises :class:`InputError`."""
    import cv2

    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise InputError(path, f"unreadable frame: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(path, "unreadable frame: cannot decode image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def frame_is_readable(path: str | Path) -> str | None:
    """``None`` when the frame decodes completely, else the reason (a truncated file fails too)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a problem to report
        return f"{type(exc).__name__}: {exc}"
    return None


def parse_frame_value(value: Any) -> int | None:
    """An annotation cell as a frame number, or ``None`` when it is not one (``"/"``, blank, ``4.5``)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value) if value >= 0 else None
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() and value >= 0 else None
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    if re.fullmatch(r"\d+\.0*", text):
        return int(float(text))
    return None


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def cell_text(value: Any) -> str:
    """A spreadsheet cell as stripped text (``""`` for blank, ``12`` for the float ``12.0``)."""
    if is_blank(value):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def norm_header(name: Any) -> str:
    """Header normalisation for column lookup: ``"Onset Frame"`` -> ``"onsetframe"``."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def find_file(root: Path, patterns: Sequence[str], depth: int = 2) -> Path | None:
    """First file under ``root`` (up to ``depth`` levels down) matching one of ``patterns``."""
    for level in range(depth + 1):
        prefix = "*/" * level
        for pattern in patterns:
            hits = sorted(p for p in root.glob(prefix + pattern) if p.is_file() and not p.name.startswith("~$"))
            if hits:
                return hits[0]
    return None


def find_dir(root: Path, names: Sequence[str], depth: int = 2) -> Path | None:
    """``root`` itself or the first folder under it (up to ``depth`` levels) named one of ``names``."""
    if root.name in names:
        return root
    for level in range(depth + 1):
        prefix = "*/" * level
        for name in names:
            hits = sorted(p for p in root.glob(prefix + name) if p.is_dir())
            if hits:
                return hits[0]
    return None


# --------------------------------------------------------------------------- the base class
class MiexDataset:
    """Base class of every miex dataset.

    Parameters
    ----------
    root:
        The dataset folder as distributed. ``None`` reads it from the dataset config
        (``~/.config/miex/datasets.toml`` or ``MIEX_<NAME>_ROOT``, see :mod:`miex.datasets.config`).
    label_scheme:
        ``"3class"`` (negative 0 / positive 1 / surprise 2; emotions outside it are excluded) or
        ``"native"`` (index into :attr:`NATIVE_CLASSES`; other emotions are excluded).
    mode:
        ``"pair"``: ``dataset[i]`` holds the ``onset`` and ``apex`` frames. ``"clip"``: it also
        holds ``frames`` (T, H, W, 3), the frames from onset to offset (all frames if that range
        is empty).
    transform:
        Called on each sample dict, returns the (new) dict. Gets the whole dict so that onset and
        apex can be augmented consistently.
    """

    #: short id used for subjects (``casme2/sub01``) and in the registry
    name: str = ""
    #: emotion (lower case) -> 3-class label; emotions not listed are outside the 3-class scheme
    THREE_CLASS_MAP: dict[str, int] = {}
    #: the native classes (lower case), in label order
    NATIVE_CLASSES: tuple[str, ...] = ()
    #: (clip, problem kind) -> why this is a documented quirk of the official data, not a fault
    KNOWN_QUIRKS: dict[tuple[str, str], str] = {}
    #: further label schemes of this dataset: name -> class names in label order (CAS(ME)^3's
    #: ``4class``/``7class``); :meth:`_scheme_index` gives a clip's index in each
    EXTRA_SCHEMES: dict[str, tuple[str, ...]] = {}

    @property
    def frames_cropped(self) -> bool:
        """True when the frames on disk are already face crops (the ``cropped`` column:
        ``[data] crop = "auto"`` leaves them as they are)."""
        return False

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        label_scheme: str = "3class",
        mode: str = "pair",
        transform: Callable[[dict], dict] | None = None,
    ) -> None:
        schemes = (*LABEL_SCHEMES, *self.EXTRA_SCHEMES)
        if label_scheme not in schemes:
            raise MiexError(f"{self.name}: label_scheme must be one of {', '.join(schemes)}, got {label_scheme!r}")
        if mode not in MODES:
            raise MiexError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.label_scheme = label_scheme
        self.mode = mode
        self.transform = transform
        self.root = self._resolve_root(root)
        self._problems: list[Problem] = []
        records = self._scan()
        self.annotations = self._build_annotations(records)
        self.samples = self._select(self.annotations)
        missing = sum(p.kind in ("missing_clip", "empty_clip") for p in self._problems)
        if missing:
            warnings.warn(
                f"{self.name}: {missing} annotated clip(s) not found under {self.root}; see .validate()",
                stacklevel=2,
            )

    # ----------------------------------------------------------------- subclass hooks
    def _scan(self) -> list[dict[str, Any]]:
        """Parse annotations and find clips. Returns one dict per clip with the keys
        ``subject`` (qualified), ``clip``, ``native_label``, ``onset``, ``apex``, ``offset``,
        ``frames``, ``aus`` (plus any extra columns). Records problems with :meth:`_problem`."""
        raise NotImplementedError

    def _label3(self, native_label: str) -> int:
        return self.THREE_CLASS_MAP.get(str(native_label).strip().lower(), -1)

    def _native_index(self, native_label: str) -> int:
        key = str(native_label).strip().lower()
        return self.NATIVE_CLASSES.index(key) if key in self.NATIVE_CLASSES else -1

    def _scheme_index(self, scheme: str, record: dict[str, Any]) -> int:
        """A clip's class index in one of :attr:`EXTRA_SCHEMES` (-1: outside it)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- helpers for subclasses
    def _resolve_root(self, root: str | Path | None) -> Path:
        from miex.datasets.config import get_root

        path = get_root(self.name) if root is None else Path(root).expanduser()
        if not path.is_dir():
            raise MiexError(f"{self.name} root {path} does not exist or is not a folder")
        return path

    def _problem(self, clip: str, kind: str, message: str) -> None:
        quirk = self.KNOWN_QUIRKS.get((clip, kind))
        if quirk:
            message = f"{message} ({quirk})"
        self._problems.append(Problem(self.name, clip, kind, message, note=bool(quirk)))

    def _subject(self, local: str) -> str:
        return make_subject(self.name, local)

    def _clip_record(
        self,
        *,
        local_subject: str,
        clip: str,
        folder: Path,
        native_label: str,
        onset: int | None = None,
        apex: int | None = None,
        offset: int | None = None,
        aus: str = "",
        apex_rule: str | float = "middle",
        **extra: Any,
    ) -> dict[str, Any] | None:
        """A clip record from a folder; onset/offset ``None`` (default) -> first/last frame, apex
        ``None`` -> ``apex_rule`` (``"middle"``, ``"first"``, ``"last"`` or a fraction in [0, 1]).
        Records ``missing_clip`` / ``empty_clip`` and returns ``None`` when there are no frames."""
        key = f"{local_subject}/{clip}"
        if not folder.is_dir():
            self._problem(key, "missing_clip", f"clip folder {folder} not found")
            return None
        frames = list_frames(folder)
        if not frames:
            self._problem(key, "empty_clip", f"no image files in {folder}")
            return None
        numbers = [frame_number(f) for f in frames]
        if onset is None:
            onset = numbers[0] if numbers[0] is not None else 0
        if offset is None:
            offset = numbers[-1] if numbers[-1] is not None else len(frames) - 1
        if apex is None:
            idx = apex_position(len(frames), apex_rule)
            apex = numbers[idx] if numbers[idx] is not None else idx
        return {
            "subject": self._subject(local_subject),
            "clip": clip,
            "native_label": native_label,
            "onset": int(onset),
            "apex": int(apex),
            "offset": int(offset),
            "frames": frames,
            "aus": aus,
            **extra,
        }

    def _frames_from_row(
        self,
        key: str,
        where: str,
        onset_v: Any,
        apex_v: Any,
        offset_v: Any,
        missing_apex: str = "skip",
    ) -> tuple[int, int, int] | None:
        """Onset/apex/offset of an annotation row, or ``None`` (problem recorded) when unusable.

        A ``"/"``, ``"-"`` or blank apex is ``missing_apex``: skipped, or with
        ``missing_apex="middle"`` replaced by ``(onset + offset) // 2``."""
        onset, apex, offset = (parse_frame_value(v) for v in (onset_v, apex_v, offset_v))
        bad = [f"{n} {cell_text(v)!r}" for n, v, p in (("onset", onset_v, onset), ("offset", offset_v, offset)) if p is None]
        if bad:
            self._problem(key, "malformed_row", f"{where}: {' and '.join(bad)} not a frame number; row skipped")
            return None
        if apex is None:
            text = cell_text(apex_v)
            if text not in ("/", "-", ""):
                self._problem(key, "malformed_row", f"{where}: apex {text!r} is not a frame number; row skipped")
                return None
            if missing_apex == "middle":
                apex = (onset + offset) // 2
                self._problem(key, "missing_apex", f"{where}: apex is {text!r}; using the middle frame {apex}")
            else:
                self._problem(key, "missing_apex", f"{where}: apex is {text!r}; row skipped")
                return None
        return onset, apex, offset

    def _annotation_sheet(self, given: Path | None, patterns: Sequence[str], expected: str) -> Path:
        """The annotation spreadsheet: ``given`` if set, else the first file under the root
        matching ``patterns``; stored as ``annotations_path``. Raises :class:`MiexError`
        naming ``expected`` when there is none."""
        sheet = given or find_file(self.root, patterns)
        if sheet is None:
            raise MiexError(f"{self.name}: no annotation file {expected} under {self.root}")
        self.annotations_path = sheet
        return sheet

    def _sheet_records(
        self,
        path: Path,
        *,
        sheet: str | int = 0,
        where: str | None = None,
        subject_of: Callable[[Any, str], str | None],
        folder_of: Callable[[str, str, dict[str, Any]], Path],
        extra_of: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        missing_apex: str = "skip",
    ) -> list[dict[str, Any]]:
        """Clip records of a coding spreadsheet with the :data:`SHEET_COLUMNS` (CASME II, SAMM, MMEW).

        Per row: ``subject_of(subject cell, clip)`` gives the local subject folder (``None``: the
        row is ``malformed_row``), :meth:`_frames_from_row` the onset/apex/offset,
        ``folder_of(subject, clip, row)`` the clip folder and ``extra_of(row)`` extra columns.
        ``where`` names the sheet in problem messages (default: the file name).
        """
        from miex.datasets._sheets import read_table

        _, rows = read_table(path, sheet=sheet, required=SHEET_COLUMNS)
        where = path.name if where is None else where
        records = []
        for row_no, row in rows:
            clip = cell_text(row["filename"])
            subject = subject_of(row["subject"], clip)
            at = f"{where} row {row_no}"
            if subject is None or not clip:
                self._problem(
                    f"{cell_text(row['subject'])}/{clip}",
                    "malformed_row",
                    f"{at}: subject {cell_text(row['subject'])!r} / filename {clip!r} unusable; row skipped",
                )
                continue
            frames = self._frames_from_row(
                f"{subject}/{clip}", at, row["onsetframe"], row["apexframe"], row["offsetframe"], missing_apex
            )
            if frames is None:
                continue
            onset, apex, offset = frames
            rec = self._clip_record(
                local_subject=subject,
                clip=clip,
                folder=folder_of(subject, clip, row),
                native_label=cell_text(row["estimatedemotion"]),
                onset=onset,
                apex=apex,
                offset=offset,
                aus=cell_text(row.get("actionunits")),
                **(extra_of(row) if extra_of is not None else {}),
            )
            if rec is not None:
                records.append(rec)
        return records

    # ----------------------------------------------------------------- tables
    def _build_annotations(self, records: list[dict[str, Any]]) -> pd.DataFrame:
        seen: set[tuple[str, str]] = set()
        kept = []
        for rec in records:
            key = (rec["subject"], rec["clip"])
            if key in seen:
                self._problem(self.local_key(rec["subject"], rec["clip"]), "duplicate", "clip annotated more than once")
                continue
            seen.add(key)
            kept.append(rec)
        base_cols = ["subject", "clip", "native_label", "onset", "apex", "offset", "frames", "aus"]
        df = pd.DataFrame.from_records(kept) if kept else pd.DataFrame(columns=base_cols)
        if "dataset" not in df.columns:
            df.insert(0, "dataset", self.name)
        if "cropped" not in df.columns:
            df["cropped"] = bool(self.frames_cropped)
        df["label3"] = [self._label3(v) for v in df["native_label"]]
        df["native_index"] = [self._native_index(v) for v in df["native_label"]]
        extra = [f"label_{s}" for s in self.EXTRA_SCHEMES]
        for scheme, col in zip(self.EXTRA_SCHEMES, extra):
            df[col] = [self._scheme_index(scheme, rec) for rec in df.to_dict("records")]
        for col in ("onset", "apex", "offset", "label3", "native_index", *extra):
            df[col] = df[col].astype("int64")
        return df.reset_index(drop=True)

    def _select(self, annotations: pd.DataFrame) -> pd.DataFrame:
        column = {"3class": "label3", "native": "native_index"}.get(self.label_scheme, f"label_{self.label_scheme}")
        df = annotations[annotations[column] >= 0].copy()
        df["label"] = df[column].astype("int64")
        internal = {"label3", "native_index", *(f"label_{s}" for s in self.EXTRA_SCHEMES)}
        extra = [c for c in df.columns if c not in SAMPLE_COLUMNS and c not in internal]
        return df[list(SAMPLE_COLUMNS) + extra].reset_index(drop=True)

    @staticmethod
    def local_key(subject: str, clip: str) -> str:
        """``casme2/sub01``, ``EP02_01f`` -> ``sub01/EP02_01f`` (the ``clip`` of a :class:`Problem`)."""
        return f"{local_id(subject)}/{clip}"

    # ----------------------------------------------------------------- public API
    @property
    def classes(self) -> tuple[str, ...]:
        """Class names of the current label scheme, in label order."""
        if self.label_scheme in self.EXTRA_SCHEMES:
            return self.EXTRA_SCHEMES[self.label_scheme]
        return THREE_CLASSES if self.label_scheme == "3class" else self.NATIVE_CLASSES

    @property
    def subjects(self) -> list[str]:
        return sorted(self.samples["subject"].unique())

    @property
    def problems(self) -> list[Problem]:
        """Problems found while parsing (no frame decoding); :meth:`validate` checks more."""
        return list(self._problems)

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, label_scheme={self.label_scheme!r}, "
            f"samples={len(self)}, subjects={self.samples['subject'].nunique()})"
        )

    def frame_path(self, row: pd.Series | dict, number: int) -> str:
        """The file of native frame ``number`` in a clip (:func:`frame_file`)."""
        if not list(row["frames"]):
            raise InputError(f"{row['subject']}/{row['clip']}", "clip has no frames")
        return frame_file(row["frames"], number)

    def clip_paths(self, row: pd.Series | dict) -> list[str]:
        """Frames from onset to offset (:func:`clip_files`)."""
        return clip_files(row)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        row = self.samples.iloc[index]
        sample: dict[str, Any] = {
            "onset": read_frame(self.frame_path(row, int(row["onset"]))),
            "apex": read_frame(self.frame_path(row, int(row["apex"]))),
            "label": int(row["label"]),
            "subject": row["subject"],
            "clip": row["clip"],
            "dataset": row["dataset"],
        }
        if self.mode == "clip":
            images = [read_frame(p) for p in self.clip_paths(row)]
            shapes = {im.shape for im in images}
            if len(shapes) > 1:
                raise InputError(Path(images and row["frames"][0]).parent, f"frames of different sizes {sorted(shapes)}")
            sample["frames"] = np.stack(images)
        if self.transform is not None:
            sample = self.transform(sample)
        return sample

    def validate(self, *, decode: bool = True) -> list[Problem]:
        """Every problem of this copy: parse problems, then per clip the frame order, missing
        onset/apex/offset frame files and (``decode=True``) onset/apex frames that fail to decode.
        Never raises."""
        problems = list(self._problems)
        for row in self.annotations.itertuples(index=False):
            problems.extend(check_clip(self.name, row._asdict(), decode=decode))
        return problems

    def validate_frame(self, **kw: Any) -> pd.DataFrame:
        return problems_frame(self.validate(**kw))


def apex_position(n_frames: int, rule: str | float) -> int:
    """Index of the apex in a clip of ``n_frames`` for clips without an apex annotation.

    ``"middle"`` is ``n_frames // 2`` (the upper middle for even lengths), ``"first"``/``"last"``
    the ends, a float in [0, 1] the frame at that fraction of the clip."""
    if n_frames <= 0:
        return 0
    if rule == "middle":
        return n_frames // 2
    if rule == "first":
        return 0
    if rule == "last":
        return n_frames - 1
    try:
        frac = float(rule)
    except (TypeError, ValueError):
        raise MiexError(f"apex rule must be 'middle', 'first', 'last' or a fraction in [0, 1], got {rule!r}") from None
    if not 0.0 <= frac <= 1.0:
        raise MiexError(f"apex fraction must be in [0, 1], got {frac}")
    return min(n_frames - 1, int(round(frac * (n_frames - 1))))


def check_clip(dataset: str, row: dict[str, Any], *, decode: bool = True) -> list[Problem]:
    """Frame-level checks of one clip record (see :meth:`MiexDataset.validate`)."""
    out: list[Problem] = []
    key = MiexDataset.local_key(str(row["subject"]), str(row["clip"]))
    try:
        onset, apex, offset = int(row["onset"]), int(row["apex"]), int(row["offset"])
        frames = list(row["frames"])
        if not frames:
            return [Problem(dataset, key, "empty_clip", "no frames")]
        if not onset <= apex <= offset:
            out.append(
                Problem(dataset, key, "frame_order", f"onset {onset} <= apex {apex} <= offset {offset} is violated")
            )
        numbers = {frame_number(f): f for f in frames}
        absent = [f"{name} {n}" for name, n in (("onset", onset), ("apex", apex), ("offset", offset)) if n not in numbers]
        if absent:
            folder = Path(frames[0]).parent
            out.append(Problem(dataset, key, "missing_frame", f"no frame file for {', '.join(absent)} in {folder}"))
        for name, n in (("onset", onset), ("apex", apex)):
            path = numbers.get(n)
            if path is None:
                continue
            if not Path(path).is_file():
                out.append(Problem(dataset, key, "missing_frame", f"{name} frame {path} does not exist"))
            elif decode and (reason := frame_is_readable(path)) is not None:
                out.append(Problem(dataset, key, "unreadable_frame", f"{name} frame {path}: {reason}"))
    except Exception as exc:  # noqa: BLE001 - validate() must name the problem, never crash
        out.append(Problem(dataset, key, "malformed_row", f"cannot check clip: {type(exc).__name__}: {exc}"))
    return out
