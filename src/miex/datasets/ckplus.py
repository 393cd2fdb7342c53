"""CK+ (Lucey et al., 2010), read as distributed.

Layout::

    ROOT/cohn-kanade-images/S005/001/S005_001_00000011.png
    ROOT/Emotion/S005/001/S005_001_00000011_emotion.txt     one float, e.g. "   3.0000000e+00"
    ROOT/FACS/S005/001/S005_001_00000011_facs.txt           lines "AU intensity" (floats)

Only labelled sequences (those with an emotion file, 327 in CK+) are kept by default. A sequence
is a macro-expression from neutral to peak: onset = first frame, apex = offset = last frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from miex.datasets.base import MiexDataset, find_dir
from miex.errors import MiexError

#: CK+ emotion codes.
EMOTION_CODES: dict[int, str] = {
    0: "neutral",
    1: "anger",
    2: "contempt",
    3: "disgust",
    4: "fear",
    5: "happy",
    6: "sadness",
    7: "surprise",
}
_LETTERS = "ABCDE"


def read_emotion_file(path: Path) -> int:
    """The emotion code of a CK+ ``*_emotion.txt`` (``"   3.0000000e+00"`` -> 3). Raises ValueError."""
    values = path.read_text(encoding="utf-8", errors="replace").split()
    if len(values) != 1:
        raise ValueError(f"expected one number, found {len(values)} values")
    code = float(values[0])
    if not code.is_integer() or int(code) not in EMOTION_CODES:
        raise ValueError(f"emotion code {values[0]!r} is not one of 0-7")
    return int(code)


def read_facs_file(path: Path) -> str:
    """A CK+ ``*_facs.txt`` as a FACS string: ``1B+2+25`` (intensity 1-5 -> A-E, 0 = not coded)."""
    parts = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split()
        if not fields:
            continue
        au = float(fields[0])
        intensity = float(fields[1]) if len(fields) > 1 else 0.0
        if not au.is_integer() or not intensity.is_integer():
            raise ValueError(f"bad FACS line {line.strip()!r}")
        letter = _LETTERS[int(intensity) - 1] if 1 <= intensity <= 5 else ""
        parts.append(f"{int(au)}{letter}")
    return "+".join(parts)


def _first_dir(root: Path, names: tuple[str, ...]) -> Path | None:
    """The first of ``names`` found under ``root`` (``Emotion_labels/Emotion`` -> ``Emotion``)."""
    for name in names:
        found = find_dir(root, (name,), depth=3)
        if found is not None:
            return found
    return None


class CkPlus(MiexDataset):
    """CK+. 3-class: anger, contempt, disgust, fear, sadness -> negative (sadness is negative; the
    MiE-X code's sadness -> positive is a bug); happy -> positive; surprise -> surprise.
    Native: the 7 coded emotions (anger, contempt, disgust, fear, happy, sadness, surprise).

    ``labelled_only=False`` keeps unlabelled sequences in :attr:`annotations` (native label
    ``""``); they are outside both label schemes.
    """

    name = "ckplus"
    THREE_CLASS_MAP = {"anger": 0, "contempt": 0, "disgust": 0, "fear": 0, "sadness": 0, "happy": 1, "surprise": 2}
    NATIVE_CLASSES = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")

    def __init__(self, root: str | Path | None = None, *, labelled_only: bool = True, **kw: Any) -> None:
        self.labelled_only = labelled_only
        super().__init__(root, **kw)

    def _scan(self) -> list[dict[str, Any]]:
        images = _first_dir(self.root, ("cohn-kanade-images", "extended-cohn-kanade-images"))
        if images is None:
            raise MiexError(f"ckplus: no cohn-kanade-images folder under {self.root}")
        emotion_dir = _first_dir(self.root, ("Emotion", "Emotion_labels"))
        facs_dir = _first_dir(self.root, ("FACS", "FACS_labels"))
        if emotion_dir is None:
            self._problem("", "missing_annotations", f"no Emotion folder under {self.root}; no sequence is labelled")
        records = []
        for subj in sorted(p for p in images.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for seq in sorted(p for p in subj.iterdir() if p.is_dir() and not p.name.startswith(".")):
                key = f"{subj.name}/{seq.name}"
                code = self._emotion(emotion_dir, subj.name, seq.name, key)
                if code is None and self.labelled_only:
                    continue
                rec = self._clip_record(
                    local_subject=subj.name,
                    clip=f"{subj.name}_{seq.name}",
                    folder=seq,
                    native_label=EMOTION_CODES[code] if code is not None else "",
                    onset=None,
                    apex=None,
                    offset=None,
                    apex_rule="last",
                    aus=self._facs(facs_dir, subj.name, seq.name, key),
                    emotion_code=-1 if code is None else code,
                )
                if rec is not None:
                    records.append(rec)
        return records

    def _emotion(self, emotion_dir: Path | None, subj: str, seq: str, key: str) -> int | None:
        if emotion_dir is None:
            return None
        files = sorted((emotion_dir / subj / seq).glob("*_emotion.txt"))
        if not files:
            return None
        try:
            return read_emotion_file(files[-1])
        except (OSError, ValueError) as exc:
            self._problem(key, "malformed_row", f"{files[-1]}: {exc}; sequence skipped")
            return None

    def _facs(self, facs_dir: Path | None, subj: str, seq: str, key: str) -> str:
        if facs_dir is None:
            return ""
        files = sorted((facs_dir / subj / seq).glob("*_facs.txt"))
        if not files:
            return ""
        try:
            return read_facs_file(files[-1])
        except (OSError, ValueError) as exc:
            self._problem(key, "malformed_row", f"{files[-1]}: {exc}; AU codes left empty")
            return ""
