"""SAMM (Davison et al., 2018), read as distributed.

Layout::

    ROOT/SAMM_Micro_FACS_Codes_v2.xlsx   sheet MICRO_ONLY: 13 note rows, then the header
                                         Subject, Filename, Inducement Code, Onset Frame, Apex Frame,
                                         Offset Frame, Duration, Micro, Action Units,
                                         Estimated Emotion, Objective Classes, Notes
    ROOT/SAMM/006/006_1_2/006_05562.jpg

Subjects are integers in the sheet (``6``) and zero-padded folders (``006``).
Quirk: clips 028_4_1 and 032_3_1 have their apex outside onset..offset (``frame_order``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from miex.datasets._sheets import read_table
from miex.datasets.base import MiexDataset, cell_text, find_file
from miex.errors import MiexError


class Samm(MiexDataset):
    """SAMM. 3-class: anger, contempt, disgust, fear, sadness -> negative; happiness -> positive;
    surprise -> surprise; "Other" is outside the scheme. Native: the literature's 5 classes
    (anger, contempt, happiness, surprise, other).

    ``sheet``: the sheet with the micro-expression rows (``MICRO_ONLY``).
    """

    name = "samm"
    THREE_CLASS_MAP = {
        "anger": 0,
        "contempt": 0,
        "disgust": 0,
        "fear": 0,
        "sadness": 0,
        "happiness": 1,
        "surprise": 2,
    }
    NATIVE_CLASSES = ("anger", "contempt", "happiness", "surprise", "other")

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        sheet: str | int = "MICRO_ONLY",
        annotations_file: str | Path | None = None,
        **kw: Any,
    ) -> None:
        self.sheet = sheet
        self.annotations_file = Path(annotations_file) if annotations_file else None
        super().__init__(root, **kw)

    def frames_dir(self) -> Path:
        """The folder holding the subject folders (``006/``): ``ROOT/SAMM`` or ``ROOT`` itself."""
        for cand in (self.root / "SAMM", self.root / "samm", self.root):
            if cand.is_dir() and any(p.is_dir() and re.fullmatch(r"\d+", p.name) for p in cand.iterdir()):
                return cand
        return self.root / "SAMM" if (self.root / "SAMM").is_dir() else self.root

    def _scan(self) -> list[dict[str, Any]]:
        sheet = self.annotations_file or find_file(self.root, ["SAMM_Micro_FACS_Codes*.xlsx", "SAMM*.xlsx"])
        if sheet is None:
            raise MiexError(f"samm: no annotation file SAMM_Micro_FACS_Codes_v2.xlsx under {self.root}")
        self.annotations_path = sheet
        frames_dir = self.frames_dir()
        _, rows = read_table(
            sheet,
            sheet=self.sheet,
            required=("subject", "filename", "onsetframe", "apexframe", "offsetframe", "estimatedemotion"),
        )
        records = []
        for row_no, row in rows:
            clip = cell_text(row["filename"])
            subject = _subject_folder(row["subject"], clip)
            where = f"{sheet.name} [{self.sheet}] row {row_no}"
            if subject is None or not clip:
                self._problem(
                    f"{cell_text(row['subject'])}/{clip}",
                    "malformed_row",
                    f"{where}: subject {cell_text(row['subject'])!r} / filename {clip!r} unusable; row skipped",
                )
                continue
            key = f"{subject}/{clip}"
            frames = self._frames_from_row(key, where, row["onsetframe"], row["apexframe"], row["offsetframe"])
            if frames is None:
                continue
            onset, apex, offset = frames
            extra = {}
            if "objectiveclasses" in row:
                extra["objective_class"] = cell_text(row["objectiveclasses"])
            rec = self._clip_record(
                local_subject=subject,
                clip=clip,
                folder=frames_dir / subject / clip,
                native_label=cell_text(row["estimatedemotion"]),
                onset=onset,
                apex=apex,
                offset=offset,
                aus=cell_text(row.get("actionunits")),
                **extra,
            )
            if rec is not None:
                records.append(rec)
        return records


def _subject_folder(value: Any, clip: str = "") -> str | None:
    """SAMM subject cell -> folder name: ``6`` -> ``006``; falls back to the clip prefix."""
    m = re.fullmatch(r"0*(\d+)", cell_text(value))
    if m:
        return f"{int(m.group(1)):03d}"
    m = re.match(r"(\d{3})_", clip)
    return m.group(1) if m else None
