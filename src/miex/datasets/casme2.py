"""CASME II (Yan et al., 2014), read as distributed.

Layout::

    ROOT/CASME2-coding-20190701.xlsx             sheet 1: Subject, Filename, (blank), OnsetFrame,
                                                  ApexFrame, OffsetFrame, (blank), Action Units,
                                                  Estimated Emotion
    ROOT/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg      (raw frames)
    ROOT/Cropped/sub01/EP02_01f/reg_img46.jpg              (cropped frames)

Quirk: the ApexFrame of sub04/EP12_01f is ``"/"`` in the official sheet (the MEGC2019 list leaves
the clip out); it is skipped and reported as a note, not a problem of the copy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from miex.datasets.base import MiexDataset, cell_text, find_dir
from miex.errors import MiexError

FRAME_FOLDERS = {"raw": ("CASME2_RAW_selected", "CASME2_RAW"), "cropped": ("Cropped", "CASME2_Cropped")}


class Casme2(MiexDataset):
    """CASME II. 3-class: disgust and repression -> negative, happiness -> positive, surprise ->
    surprise; fear, sadness and others are outside the scheme. Native: 5 classes (happiness,
    disgust, repression, surprise, others).

    ``variant``: ``"auto"`` (raw frames if present, else cropped), ``"raw"`` or ``"cropped"``.
    ``missing_apex``: ``"skip"`` rows whose apex is ``"/"`` or use the ``"middle"`` frame.
    ``annotations_file``: the coding spreadsheet, found as ``CASME2-coding-*.xlsx`` by default.
    """

    KNOWN_QUIRKS = {("sub04/EP12_01f", "missing_apex"): "documented quirk of the official sheet; the MEGC2019 "
                                                        "list leaves this clip out"}

    name = "casme2"
    THREE_CLASS_MAP = {"disgust": 0, "repression": 0, "happiness": 1, "surprise": 2}
    NATIVE_CLASSES = ("happiness", "disgust", "repression", "surprise", "others")

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        variant: str = "auto",
        missing_apex: str = "skip",
        annotations_file: str | Path | None = None,
        **kw: Any,
    ) -> None:
        if variant not in ("auto", "raw", "cropped"):
            raise MiexError(f"CASME II variant must be auto, raw or cropped, got {variant!r}")
        self.variant = variant
        self.missing_apex = missing_apex
        self.annotations_file = Path(annotations_file) if annotations_file else None
        super().__init__(root, **kw)

    @property
    def frames_cropped(self) -> bool:
        return getattr(self, "variant_found", "") == "cropped"

    def frames_dir(self) -> Path:
        variants = ("raw", "cropped") if self.variant == "auto" else (self.variant,)
        for v in variants:
            found = find_dir(self.root, FRAME_FOLDERS[v])
            if found is not None:
                self.variant_found = v
                return found
        names = " or ".join(n for v in variants for n in FRAME_FOLDERS[v])
        raise MiexError(f"casme2: no frame folder {names} under {self.root}")

    def _scan(self) -> list[dict[str, Any]]:
        sheet = self._annotation_sheet(
            self.annotations_file, ["CASME2-coding-*.xlsx", "CASME2*coding*.xlsx"], "CASME2-coding-*.xlsx"
        )
        frames_dir = self.frames_dir()
        return self._sheet_records(
            sheet,
            subject_of=lambda value, clip: _subject_folder(value),
            folder_of=lambda subject, clip, row: frames_dir / subject / clip,
            missing_apex=self.missing_apex,
        )


def _subject_folder(value: Any) -> str | None:
    """CASME II subject cell -> folder name: ``1`` -> ``sub01``; ``"sub01"`` stays."""
    text = cell_text(value)
    m = re.fullmatch(r"(?:sub)?0*(\d+)", text, flags=re.IGNORECASE)
    return f"sub{int(m.group(1)):02d}" if m else None
