"""MMEW (Ben et al., TPAMI 2021), read as distributed.

Layout::

    ROOT/MMEW_Micro_Exp.xlsx     Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame,
                                 Action Units, Estimated Emotion, remarks
    ROOT/Micro_Expression/{emotion}/S01-01-001/{n}.jpg
    ROOT/Macro_Expression/{emotion}/<clip>/{n}.jpg      (part="macro")

The micro part is annotated; the macro part is read from its folders: onset = first frame,
apex = offset = last (peak) frame.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from miex.datasets.base import MiexDataset, cell_text, find_dir
from miex.errors import MiexError


class Mmew(MiexDataset):
    """MMEW. 3-class: anger, disgust, fear, sadness -> negative; happiness -> positive; surprise ->
    surprise; others are outside the scheme. Native: 6 classes (happiness, surprise, disgust, fear,
    sadness, others; anger, with very few clips, is left out as in the MMEW paper's 6-class task).

    ``part``: ``"micro"`` (default) or ``"macro"``.
    """

    name = "mmew"
    THREE_CLASS_MAP = {"anger": 0, "disgust": 0, "fear": 0, "sadness": 0, "happiness": 1, "surprise": 2}
    NATIVE_CLASSES = ("happiness", "surprise", "disgust", "fear", "sadness", "others")

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        part: str = "micro",
        annotations_file: str | Path | None = None,
        **kw: Any,
    ) -> None:
        if part not in ("micro", "macro"):
            raise MiexError(f"MMEW part must be micro or macro, got {part!r}")
        self.part = part
        self.annotations_file = Path(annotations_file) if annotations_file else None
        super().__init__(root, **kw)

    def _scan(self) -> list[dict[str, Any]]:
        return self._scan_micro() if self.part == "micro" else self._scan_macro()

    def _clip_folders(self, top: str) -> dict[str, Path]:
        base = find_dir(self.root, (top,))
        if base is None:
            raise MiexError(f"mmew: no {top} folder under {self.root}")
        return {
            clip.name: clip
            for emotion in sorted(p for p in base.iterdir() if p.is_dir())
            for clip in sorted(p for p in emotion.iterdir() if p.is_dir())
        }

    def _scan_micro(self) -> list[dict[str, Any]]:
        sheet = self._annotation_sheet(
            self.annotations_file, ["MMEW_Micro_Exp*.xlsx", "MMEW*Micro*.xlsx"], "MMEW_Micro_Exp.xlsx"
        )
        folders = self._clip_folders("Micro_Expression")
        return self._sheet_records(
            sheet,
            subject_of=_subject_name,
            folder_of=lambda subject, clip, row: folders.get(
                clip, self.root / "Micro_Expression" / cell_text(row["estimatedemotion"]) / clip
            ),
            extra_of=lambda row: {"remarks": cell_text(row.get("remarks"))},
        )

    def _scan_macro(self) -> list[dict[str, Any]]:
        records = []
        for clip, folder in self._clip_folders("Macro_Expression").items():
            subject = _subject_name("", clip) or clip
            rec = self._clip_record(
                local_subject=subject,
                clip=clip,
                folder=folder,
                native_label=folder.parent.name,
                apex_rule="last",
            )
            if rec is not None:
                records.append(rec)
        return records


def _subject_name(value: Any, clip: str) -> str | None:
    """MMEW subject cell -> ``S01``; ``1`` -> ``S01``; falls back to the clip's ``S01`` prefix."""
    text = cell_text(value)
    m = re.fullmatch(r"[sS]?0*(\d+)", text)
    if m:
        return f"S{int(m.group(1)):02d}"
    m = re.match(r"[sS](\d+)", clip)
    return f"S{int(m.group(1)):02d}" if m else None
