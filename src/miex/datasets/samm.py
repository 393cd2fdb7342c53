"""SAMM (Davison et al., 2018), read as distributed.

Layout::

    ROOT/SAMM_Micro_FACS_Codes_v2.xlsx   sheet MICRO_ONLY: 13 note rows, then the header
                                         Subject, Filename, Inducement Code, Onset Frame, Apex Frame,
                                         Offset Frame, Duration, Micro, Action Units,
                                         Estimated Emotion, Objective Classes, Notes
    ROOT/SAMM/006/006_1_2/006_05562.jpg

Subjects are integers in the sheet (``6``) and zero-padded folders (``006``).
The public ``SAMM_Micro_FACS_Codes_v2.xlsx`` stores subjects as text (``'006'``) and Duration
cells as formulas; its apex is inside onset..offset for every clip (028_4_1 is 1071/1113/1134).
Other copies may differ: ``validate()`` reports an apex outside onset..offset (``frame_order``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from miex.datasets.base import MiexDataset, cell_text


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
        sheet = self._annotation_sheet(
            self.annotations_file, ["SAMM_Micro_FACS_Codes*.xlsx", "SAMM*.xlsx"], "SAMM_Micro_FACS_Codes_v2.xlsx"
        )
        frames_dir = self.frames_dir()
        return self._sheet_records(
            sheet,
            sheet=self.sheet,
            where=f"{sheet.name} [{self.sheet}]",
            subject_of=_subject_folder,
            folder_of=lambda subject, clip, row: frames_dir / subject / clip,
            extra_of=_extra_columns,
        )


def _subject_folder(value: Any, clip: str = "") -> str | None:
    """SAMM subject cell -> folder name: ``6`` -> ``006``; falls back to the clip prefix."""
    m = re.fullmatch(r"0*(\d+)", cell_text(value))
    if m:
        return f"{int(m.group(1)):03d}"
    m = re.match(r"(\d{3})_", clip)
    return m.group(1) if m else None


def _extra_columns(row: dict[str, Any]) -> dict[str, Any]:
    """``objective_class`` when the sheet has the Objective Classes column."""
    return {"objective_class": cell_text(row["objectiveclasses"])} if "objectiveclasses" in row else {}
