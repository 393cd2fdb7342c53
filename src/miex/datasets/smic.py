"""SMIC-HS (Li et al., 2013), read as distributed.

Layout::

    ROOT/HS/s1/micro/negative/s1_ne_01/image046829.bmp
                     positive/s1_po_01/...
                     surprise/s1_sur_01/...

There is no annotation file: the emotion is the category folder, onset = the first frame,
offset = the last frame. There is no apex annotation: ``apex="middle"`` (default) takes the
frame at index ``n // 2``; ``"first"``, ``"last"`` or a fraction in [0, 1] are accepted too.
Subject folders are ``s1`` while the MEGC2019 list says ``s01``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from miex.datasets.base import MiexDataset, apex_position, find_dir
from miex.errors import MiexError

CATEGORIES = ("negative", "positive", "surprise")


def smic_key(subject_or_clip: str) -> tuple[int, str] | None:
    """Normalise ``s1_ne_01`` / ``s01_ne_01`` -> ``(1, "ne_01")`` and ``s01`` -> ``(1, "")``."""
    m = re.fullmatch(r"s0*(\d+)(?:_(.*))?", subject_or_clip.strip(), flags=re.IGNORECASE)
    if not m:
        return None
    return int(m.group(1)), (m.group(2) or "").lower()


class SmicHS(MiexDataset):
    """SMIC high-speed (HS) camera part. 3-class and native classes are the category folders."""

    name = "smic"
    THREE_CLASS_MAP = {"negative": 0, "positive": 1, "surprise": 2}
    NATIVE_CLASSES = CATEGORIES

    def __init__(self, root: str | Path | None = None, *, apex: str | float = "middle", **kw: Any) -> None:
        apex_position(3, apex)  # validates the rule early
        self.apex_rule = apex
        super().__init__(root, **kw)

    def frames_dir(self) -> Path:
        """The ``HS`` folder (``ROOT/HS``, ``ROOT/*/HS`` or ``ROOT`` itself when it holds ``s1/micro``)."""
        found = find_dir(self.root, ("HS",))
        if found is not None:
            return found
        if any((p / "micro").is_dir() for p in self.root.glob("s*")):
            return self.root
        raise MiexError(f"smic: no HS folder (HS/s1/micro/...) under {self.root}")

    def _scan(self) -> list[dict[str, Any]]:
        hs = self.frames_dir()
        subjects = sorted(
            (p for p in hs.iterdir() if p.is_dir() and smic_key(p.name) is not None),
            key=lambda p: smic_key(p.name),
        )
        if not subjects:
            self._problem("", "missing_annotations", f"no subject folders s1, s2, ... in {hs}")
        records = []
        for subj in subjects:
            micro = subj / "micro"
            if not micro.is_dir():
                self._problem(f"{subj.name}/", "missing_clip", f"no micro folder in {subj}")
                continue
            for category in sorted(p for p in micro.iterdir() if p.is_dir()):
                emotion = category.name.lower()
                if emotion not in CATEGORIES:
                    self._problem(f"{subj.name}/{category.name}", "malformed_row", f"unknown category folder {category}")
                    continue
                for clip_dir in sorted(p for p in category.iterdir() if p.is_dir()):
                    rec = self._clip_record(
                        local_subject=subj.name,
                        clip=clip_dir.name,
                        folder=clip_dir,
                        native_label=emotion,
                        apex_rule=self.apex_rule,
                    )
                    if rec is not None:
                        records.append(rec)
        return records
