"""Oulu-CASIA NIR&VIS facial expression database, read as distributed.

Layout::

    ROOT/OriginalImg/{VL,NI}/{Strong,Weak,Dark}/P001/{Anger,Disgust,Fear,Happiness,Sadness,Surprise}/000.jpeg

One sequence per subject and emotion, from neutral to peak: onset = first frame,
apex = offset = last frame. ``modality`` (``VL`` visible or ``NI`` near-infrared) and
``illumination`` (``Strong``, ``Weak``, ``Dark``) pick one of the six recordings; defaults VL/Strong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from miex.datasets.base import MiexDataset, find_dir
from miex.errors import MiexError

MODALITIES = ("VL", "NI")
ILLUMINATIONS = ("Strong", "Weak", "Dark")


class OuluCasia(MiexDataset):
    """Oulu-CASIA. 3-class: anger, disgust, fear, sadness -> negative; happiness -> positive;
    surprise -> surprise. Native: the 6 emotions."""

    name = "oulu"
    THREE_CLASS_MAP = {"anger": 0, "disgust": 0, "fear": 0, "sadness": 0, "happiness": 1, "surprise": 2}
    NATIVE_CLASSES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        modality: str = "VL",
        illumination: str = "Strong",
        **kw: Any,
    ) -> None:
        if modality not in MODALITIES:
            raise MiexError(f"Oulu-CASIA modality must be one of {', '.join(MODALITIES)}, got {modality!r}")
        if illumination not in ILLUMINATIONS:
            raise MiexError(f"Oulu-CASIA illumination must be one of {', '.join(ILLUMINATIONS)}, got {illumination!r}")
        self.modality = modality
        self.illumination = illumination
        super().__init__(root, **kw)

    def _scan(self) -> list[dict[str, Any]]:
        original = find_dir(self.root, ("OriginalImg",))
        if original is None:
            raise MiexError(f"oulu: no OriginalImg folder under {self.root}")
        base = original / self.modality / self.illumination
        if not base.is_dir():
            raise MiexError(f"oulu: no {self.modality}/{self.illumination} recording folder {base}")
        records = []
        for subj in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for emotion in sorted(p for p in subj.iterdir() if p.is_dir() and not p.name.startswith(".")):
                rec = self._clip_record(
                    local_subject=subj.name,
                    clip=f"{subj.name}_{emotion.name}",
                    folder=emotion,
                    native_label=emotion.name,
                    apex_rule="last",
                )
                if rec is not None:
                    records.append(rec)
        return records
