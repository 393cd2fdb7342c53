"""4DME, the 2D frame part (Li et al., "4DME: A Spontaneous 4D Micro-Expression Dataset With
Multimodalities", IEEE Transactions on Affective Computing 2022), read as distributed.

Layout (as MEB, the public benchmark library of Varanka et al., reads the release)::

    ROOT/4DME_Labelling_Micro_release v1.xlsx      sub_ID, fold_name, Onset, Apex, Offset, AUs,
                                                   Emotion (other columns are kept aside)
    ROOT/gray_micro/<sub_ID>/<fold_name>/<frames>  (grey 2D frames; ``gray_micro_crop`` cropped)

Earlier label files wrote the headers with a trailing apostrophe (``sub_ID'``): headers are
matched after dropping punctuation. The clip folders may also sit directly under
``gray_micro/``. Frame files are numbered; when the annotated onset is not one of the file
numbers but the folder holds exactly ``offset - onset + 1`` frames (frames renumbered from 0 or
1 when the clip was cut), the annotation is shifted onto the files by position and the video's
numbers are kept in ``video_onset``/``video_apex``/``video_offset``.

Emotions are multi-label (``Surprise+Positive``): five categories, positive, negative, surprise,
repression and others. **3-class rule:** split the cell on ``+ , / &``; each part maps as
positive -> positive (1), negative -> negative (0), surprise -> surprise (2), repression ->
negative (0, as CASME II's repression in the MEGC2019 composite); ``others`` adds nothing. One
class left -> that label; none -> outside the scheme; several different classes
(``Surprise+Positive``) -> outside the scheme with ``multi_label="exclude"`` (default), the first
listed class with ``"first"``. The native scheme holds the single-label clips of the five
categories. AU codes keep the file's ``(k)`` marks (AUs the annotators flagged as static).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from miex.datasets.base import MiexDataset, cell_text, find_dir, frame_number, is_blank
from miex.errors import MiexError

COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("subid", "subject", "sub"),
    "filename": ("foldname", "filename", "videonumber", "clip"),
    "onset": ("onset", "onsetframe"),
    "apex": ("apex", "apexframe"),
    "offset": ("offset", "offsetframe"),
    "au": ("aus", "au", "actionunits"),
    "emotion": ("emotion", "estimatedemotion"),
}
REQUIRED = ("subject", "filename", "onset", "apex", "offset", "emotion")
ANNOTATION_PATTERNS = ("4DME_Labelling_Micro*.xlsx", "4DME*Micro*.xlsx", "4DME*.xlsx", "4dme*.xlsx")
FRAME_FOLDERS = {"raw": ("gray_micro",), "cropped": ("gray_micro_crop", "gray_micro_cropped")}
#: emotion word -> the category it belongs to
CATEGORY_WORDS: dict[str, str] = {
    **dict.fromkeys(("positive", "happy", "happiness"), "positive"),
    **dict.fromkeys(("negative", "anger", "disgust", "fear", "sad", "sadness", "contempt"), "negative"),
    **dict.fromkeys(("surprise", "surprised"), "surprise"),
    "repression": "repression",
    **dict.fromkeys(("others", "other"), "others"),
}
CATEGORY_LABEL3 = {"negative": 0, "positive": 1, "surprise": 2, "repression": 0}
_SPLIT = re.compile(r"\s*(?:\+|,|/|&)\s*")


def emotion_parts(text: str) -> list[str]:
    """The categories of a 4DME emotion cell in order: ``"Surprise+Positive"`` -> surprise, positive.
    Unknown words are kept as they are (lower case)."""
    parts = [p.strip().lower() for p in _SPLIT.split(str(text)) if p.strip()]
    return [CATEGORY_WORDS.get(p, p) for p in parts]


def label3_of(text: str, multi_label: str = "exclude") -> int:
    """The 3-class label of a 4DME emotion cell by the module's documented rule (-1: outside)."""
    classes = [CATEGORY_LABEL3[p] for p in emotion_parts(text) if p in CATEGORY_LABEL3]
    if not classes:
        return -1
    if len(set(classes)) == 1 or multi_label == "first":
        return classes[0]
    return -1


class FourDME(MiexDataset):
    """4DME, 2D grey frames. 3-class: see the module docstring for the multi-label rule.
    Native: positive, negative, surprise, repression, others (single-label clips only).

    ``variant``: ``"auto"`` (``gray_micro`` if present, else ``gray_micro_crop``), ``"raw"`` or
    ``"cropped"``. ``multi_label``: ``"exclude"`` (default) or ``"first"``.
    """

    name = "4dme"
    NATIVE_CLASSES = ("positive", "negative", "surprise", "repression", "others")

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        variant: str = "auto",
        multi_label: str = "exclude",
        annotations_file: str | Path | None = None,
        **kw: Any,
    ) -> None:
        if variant not in ("auto", "raw", "cropped"):
            raise MiexError(f"4dme variant must be auto, raw or cropped, got {variant!r}")
        if multi_label not in ("exclude", "first"):
            raise MiexError(f"4dme multi_label must be exclude or first, got {multi_label!r}")
        self.variant = variant
        self.multi_label = multi_label
        self.annotations_file = Path(annotations_file) if annotations_file else None
        super().__init__(root, **kw)

    def _label3(self, native_label: str) -> int:
        return label3_of(native_label, self.multi_label)

    def _native_index(self, native_label: str) -> int:
        parts = emotion_parts(native_label)
        if len(parts) != 1 or parts[0] not in self.NATIVE_CLASSES:
            return -1
        return self.NATIVE_CLASSES.index(parts[0])

    def frames_dir(self) -> Path:
        variants = ("raw", "cropped") if self.variant == "auto" else (self.variant,)
        for v in variants:
            found = find_dir(self.root, FRAME_FOLDERS[v], depth=3)
            if found is not None:
                self.variant_found = v
                return found
        names = " or ".join(n for v in variants for n in FRAME_FOLDERS[v])
        raise MiexError(f"4dme: no frame folder {names} under {self.root}")

    def _scan(self) -> list[dict[str, Any]]:
        from miex.datasets._sheets import read_aliased_table

        sheet = self._annotation_sheet(self.annotations_file, ANNOTATION_PATTERNS, "4DME_Labelling_Micro_release v1.xlsx")
        if not sheet.is_file():
            raise MiexError(f"4dme: annotation file {sheet} not found")
        top = self.frames_dir()
        name, rows = read_aliased_table(sheet, columns=COLUMNS, required=REQUIRED)
        records = []
        for row_no, row in rows:
            rec = self._row_record(row, f"{sheet.name} [{name}] row {row_no}", top)
            if rec is not None:
                records.append(rec)
        return records

    def _row_record(self, row: dict[str, Any], at: str, top: Path) -> dict[str, Any] | None:
        subject, clip = _subject_name(row["subject"]), cell_text(row["filename"])
        if subject is None or not clip:
            self._problem(f"{cell_text(row['subject'])}/{clip}", "malformed_row",
                          f"{at}: subject {cell_text(row['subject'])!r} / fold_name {clip!r} unusable; row skipped")
            return None
        key = f"{subject}/{clip}"
        frames = self._frames_from_row(key, at, row["onset"], row["apex"], row["offset"])
        if frames is None:
            return None
        if is_blank(row["emotion"]):
            self._problem(key, "malformed_row", f"{at}: no emotion; row skipped")
            return None
        folder = top / subject / clip
        if not folder.is_dir() and (top / clip).is_dir():
            folder = top / clip
        rec = self._clip_record(local_subject=subject, clip=clip, folder=folder,
                                native_label=cell_text(row["emotion"]), aus=cell_text(row.get("au")))
        if rec is None:
            return None
        onset, apex, offset = frames
        rec.update(onset=onset, apex=apex, offset=offset, video_onset=onset, video_apex=apex, video_offset=offset)
        shift = _position_shift(rec["frames"], onset, offset)
        if shift:
            rec.update(onset=onset + shift, apex=apex + shift, offset=offset + shift)
        return rec


def _position_shift(frames: list[str], onset: int, offset: int) -> int:
    """How far to move the annotation onto the files when they are renumbered by position (0: not)."""
    numbers = [frame_number(f) for f in frames]
    if onset in numbers or None in numbers or len(frames) != offset - onset + 1:
        return 0
    return int(numbers[0]) - onset


def _subject_name(value: Any) -> str | None:
    """4DME subject cell -> folder name: ``S01`` stays; ``1`` -> ``S01``."""
    text = cell_text(value)
    if not text:
        return None
    m = re.fullmatch(r"0*(\d+)", text)
    return f"S{int(m.group(1)):02d}" if m else text


__all__ = ["FourDME", "emotion_parts", "label3_of"]
