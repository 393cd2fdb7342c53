"""CAS(ME)^3 Part A (Li et al., "CAS(ME)^3: A Third Generation Facial Spontaneous Micro-Expression
Database with Depth Information and High Ecological Validity", IEEE TPAMI 2022), read as distributed.

Layout (the official depth-flow code and public loaders read frames this way)::

    ROOT/part_A/annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx   (or ..._v1.xls)
        sheet ``label``: Subject, Filename, Onset, Apex, Offset, AU, Objective class, emotion
    ROOT/part_A/annotation/cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx   (part="macro")
        sub, seq, onset, apex, offset, ..., emotion
    ROOT/part_A/data/part_A/spNO.1/a/color/355.jpg        (RGB, native frame number)
    ROOT/part_A/data/part_A/spNO.1/a/depth/355.png        (depth; not read)

or, in the pre-cut clip package (``layout="clips"``; folder names matched case-insensitively,
some copies spell them ``spNo.``)::

    ROOT/Part_A_ME_clip/frame/spNO.1_a_355/355.jpg ...    (one folder per ME: subject_video_onset)
    ROOT/Part_A_ME_clip/depth/spNO.1_a_355/355.png ...    (not read)

``Filename`` is one of the 13 videos of a subject (``a`` ... ``m``); a video holds several
micro-expressions, so a clip is named ``<video>_<onset>`` (``a_355``, as the official depth code
names its files) and its frames are the video's frames from onset to offset (from the smallest to
the largest of onset, apex and offset when a row has them out of order). The subject folder
holding the ``spNO.*`` folders is found anywhere up to four levels under the root.

Quirks of the public v2 sheet (860 rows, 94 subjects) the loader copes with: every cell is text
(frame numbers too); ``Others`` next to ``others``; one upper-case video ``J`` for folder ``j``;
a blank ``Sheet1`` and ``Sheet3`` after ``label``; four rows violate onset <= apex <= offset
(``frame_order`` problems from :meth:`validate`, two have offset ``0``). v1 (``.xls``, 921 rows)
has two unnamed count columns after ``emotion``; reading it needs ``xlrd``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from miex.datasets.base import MiexDataset, cell_text, find_dir, find_file, frame_number, is_blank, list_frames
from miex.errors import MiexError

#: Header spellings (normalised) of the ME and MaE label files.
COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("subject", "sub", "subid"),
    "filename": ("filename", "seq", "video", "material"),
    "onset": ("onset", "onsetframe"),
    "apex": ("apex", "apexframe"),
    "offset": ("offset", "offsetframe"),
    "au": ("au", "aus", "actionunits"),
    "objective": ("objectiveclass", "objectiveclasses"),
    "emotion": ("emotion", "estimatedemotion"),
}
REQUIRED = ("subject", "filename", "onset", "apex", "offset", "emotion")
ANNOTATION_PATTERNS = {
    "micro": ("cas(me)3_part_A_ME_label*.xlsx", "cas(me)3_part_A_ME_label*.xls", "*part_A_ME_label*.xls*",
              "*part_a_me_label*.xls*"),
    "macro": ("cas(me)3_part_A_MaE_label*.xlsx", "cas(me)3_part_A_MaE_label*.xls", "*part_A_MaE_label*.xls*",
              "*part_a_mae_label*.xls*"),
}
#: Emotion spellings -> the ME sheet's words (the MaE sheet writes happiness/sadness).
EMOTION_WORDS = {"happiness": "happy", "sadness": "sad", "other": "others", "angry": "anger"}
OBJECTIVE_CLASSES = ("I", "II", "III", "IV", "V", "VI", "VII")
_SUBJECT = re.compile(r"sp\s*no\.?\s*0*(\d+)", re.IGNORECASE)
_CLIP_FOLDER = re.compile(r"(sp\s*no\.?\s*0*\d+)_([a-z]+)_(\d+)", re.IGNORECASE)
LAYOUTS = ("auto", "videos", "clips")


class Casme3(MiexDataset):
    """CAS(ME)^3 Part A.

    Label schemes (``label_scheme``):

    - ``"3class"``: anger, disgust, fear, sad -> negative (0); happy -> positive (1); surprise ->
      surprise (2); others are outside the scheme.
    - ``"4class"``: the 3 classes plus others (3): negative, positive, surprise, others.
    - ``"7class"`` (= ``"native"``): happy, disgust, fear, anger, sad, surprise, others.
    - ``"objective"``: the objective classes I ... VII (AU-based, Davison et al. 2018).

    ``part``: ``"micro"`` (the ME label file, default) or ``"macro"`` (the MaE label file).
    ``layout``: ``"videos"`` (``spNO.1/a/color/``), ``"clips"`` (``Part_A_ME_clip/frame/``) or
    ``"auto"`` (clips when a ``Part_A_ME_clip`` folder is there, else videos).
    ``annotations_file``: the label spreadsheet (found under the root by default).
    """

    name = "casme3"
    THREE_CLASS_MAP = {"anger": 0, "disgust": 0, "fear": 0, "sad": 0, "happy": 1, "surprise": 2}
    NATIVE_CLASSES = ("happy", "disgust", "fear", "anger", "sad", "surprise", "others")
    EXTRA_SCHEMES = {
        "4class": ("negative", "positive", "surprise", "others"),
        "7class": NATIVE_CLASSES,
        "objective": OBJECTIVE_CLASSES,
    }

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        part: str = "micro",
        layout: str = "auto",
        annotations_file: str | Path | None = None,
        **kw: Any,
    ) -> None:
        if part not in ("micro", "macro"):
            raise MiexError(f"casme3 part must be micro or macro, got {part!r}")
        if layout not in LAYOUTS:
            raise MiexError(f"casme3 layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        self.part = part
        self.layout = layout
        self.annotations_file = Path(annotations_file) if annotations_file else None
        super().__init__(root, **kw)

    # ----------------------------------------------------------------- labels
    def _scheme_index(self, scheme: str, record: dict[str, Any]) -> int:
        emotion = str(record["native_label"])
        if scheme == "4class":
            return 3 if emotion == "others" else self._label3(emotion)
        if scheme == "7class":
            return self._native_index(emotion)
        objective = str(record.get("objective_class", "")).strip().upper()
        return OBJECTIVE_CLASSES.index(objective) if objective in OBJECTIVE_CLASSES else -1

    # ----------------------------------------------------------------- layout
    def subject_folders(self) -> dict[str, Path]:
        """``spNO.<n>`` -> its folder: the shallowest ``spNO.*`` folders under the root (4 levels),
        looked for under a ``part_A`` folder first (Part B's unlabelled subjects have the same names)."""
        part_a = find_dir(self.root, ("part_A", "Part_A", "part_a", "PartA"), depth=2)
        for base in dict.fromkeys(b for b in (part_a, self.root) if b is not None):
            for level in range(5):
                hits = [p for p in base.glob("*/" * level + "*") if p.is_dir() and _SUBJECT.fullmatch(p.name)]
                if hits:
                    out: dict[str, Path] = {}
                    for p in sorted(hits):
                        out.setdefault(str(_subject_name(p.name)), p)
                    return out
        raise MiexError(f"casme3: no subject folders spNO.* under {self.root} (expected e.g. part_A/data/part_A/spNO.1)")

    def annotation_file(self) -> Path:
        """The ME (or MaE) label spreadsheet: ``annotations_file`` or the first match under the root."""
        if self.annotations_file is not None:
            if not self.annotations_file.is_file():
                raise MiexError(f"casme3: annotation file {self.annotations_file} not found")
            found: Path | None = self.annotations_file
        else:
            found = find_file(self.root, ANNOTATION_PATTERNS[self.part], depth=3)
        if found is None:
            kind = "ME" if self.part == "micro" else "MaE"
            raise MiexError(f"casme3: no annotation file cas(me)3_part_A_{kind}_label_*.xlsx under {self.root}")
        self.annotations_path = found
        return found

    def _scan(self) -> list[dict[str, Any]]:
        from miex.datasets._sheets import read_aliased_table

        sheet = self.annotation_file()
        clips = self.clip_folders() if self.layout != "videos" else None
        if clips is None and self.layout == "clips":
            raise MiexError(f"casme3: no Part_A_ME_clip/frame folder under {self.root}")
        self.layout_found = "clips" if clips is not None else "videos"
        subjects = self.subject_folders() if clips is None else {}
        name, rows = read_aliased_table(sheet, columns=COLUMNS, required=REQUIRED, sheets=("label",))
        where = f"{sheet.name} [{name}]"
        videos = _VideoIndex()
        records = []
        for row_no, row in rows:
            rec = self._row_record(row, f"{where} row {row_no}", subjects, videos, clips)
            if rec is not None:
                records.append(rec)
        return records

    def clip_folders(self) -> dict[tuple[str, str, int], Path] | None:
        """``(spNO.1, a, 355)`` -> ``Part_A_ME_clip/frame/spNO.1_a_355``; ``None`` without that package."""
        package = find_dir(self.root, ("Part_A_ME_clip", "part_A_ME_clip", "Part_A_ME_Clip"), depth=3)
        frame_dir = find_dir(package, ("frame", "frames", "Frame"), depth=2) if package is not None else None
        if frame_dir is None:
            return None
        out: dict[tuple[str, str, int], Path] = {}
        for p in sorted(frame_dir.iterdir()):
            m = _CLIP_FOLDER.fullmatch(p.name)
            if m and p.is_dir():
                out.setdefault((str(_subject_name(m.group(1))), m.group(2).lower(), int(m.group(3))), p)
        return out

    def _row_record(
        self,
        row: dict[str, Any],
        at: str,
        subjects: dict[str, Path],
        videos: _VideoIndex,
        clips: dict[tuple[str, str, int], Path] | None = None,
    ) -> dict[str, Any] | None:
        subject_text, video = cell_text(row["subject"]), cell_text(row["filename"])
        subject = _subject_name(subject_text)
        if subject is None or not video:
            self._problem(f"{subject_text}/{video}", "malformed_row",
                          f"{at}: subject {subject_text!r} / filename {video!r} unusable; row skipped")
            return None
        frames = self._frames_from_row(f"{subject}/{video}", at, row["onset"], row["apex"], row["offset"])
        if frames is None:
            return None
        onset, apex, offset = frames
        clip = f"{video.lower()}_{onset}"
        key = f"{subject}/{clip}"
        emotion = cell_text(row["emotion"]).lower()
        if is_blank(row["emotion"]):
            self._problem(key, "malformed_row", f"{at}: no emotion; row skipped")
            return None
        if clips is not None:
            folder = clips.get((subject, video.lower(), onset))
            missing = f"clip folder {subject}_{video}_{onset} not found in Part_A_ME_clip/frame"
        else:
            folder = self._video_folder(subjects, subject, video)
            missing = f"video folder {subject}/{video} not found under {self.root}"
        if folder is None:
            self._problem(key, "missing_clip", missing)
            return None
        lo, hi = min(onset, apex, offset), max(onset, apex, offset)  # out-of-order rows keep every annotated frame
        clip_frames = videos.frames(folder, lo, hi)
        if not clip_frames:
            self._problem(key, "empty_clip", f"no frames {lo}..{hi} in {folder}")
            return None
        return {
            "subject": self._subject(subject),
            "clip": clip,
            "native_label": EMOTION_WORDS.get(emotion, emotion),
            "onset": onset,
            "apex": apex,
            "offset": offset,
            "frames": clip_frames,
            "aus": cell_text(row.get("au")),
            "objective_class": cell_text(row.get("objective")).upper(),
            "video": video.lower(),
        }

    @staticmethod
    def _video_folder(subjects: dict[str, Path], subject: str, video: str) -> Path | None:
        """``spNO.1/a/color`` (``a`` matched case-insensitively; the video folder itself when it
        has no ``color`` sub-folder, as in copies that hold only the RGB frames)."""
        base = subjects.get(subject)
        if base is None:
            return None
        folder = _child(base, video)
        if folder is None:
            return None
        return _child(folder, "color") or folder


class _VideoIndex:
    """Frame files of each video folder, listed once: ``{frame number: path}``."""

    def __init__(self) -> None:
        self._cache: dict[Path, dict[int, str]] = {}

    def frames(self, folder: Path, lo: int, hi: int) -> list[str]:
        if folder not in self._cache:
            self._cache[folder] = {n: f for f in list_frames(folder) if (n := frame_number(f)) is not None}
        table = self._cache[folder]
        return [table[n] for n in sorted(table) if lo <= n <= hi]


def _child(folder: Path, name: str) -> Path | None:
    exact = folder / name
    if exact.is_dir():
        return exact
    try:
        matches = sorted(p for p in folder.iterdir() if p.is_dir() and p.name.lower() == name.lower())
    except OSError:
        return None
    return matches[0] if matches else None


def _subject_name(text: str) -> str | None:
    """``spNO.1``, ``spNo.01``, ``spno1`` -> ``spNO.1`` (the spelling of the label sheet)."""
    m = _SUBJECT.fullmatch(str(text).strip())
    return f"spNO.{int(m.group(1))}" if m else None
