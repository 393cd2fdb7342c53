"""Fixture trees in the exact layouts of the real datasets, for tests and benchmarks.

Every writer takes ``frame_source`` (see :mod:`miex.testing.frames`; default
:func:`~miex.testing.frames.default_frame_source`) and returns a :class:`Fixture` whose ``clips``
table says what was written (independently of miex's loaders). Annotation spreadsheets are written
with openpyxl in the real column layouts, quirks included:

- CASME II: blank third and seventh columns, the ``"/"`` apex of sub04/EP12_01f, apex = onset
  for sub05/EP09_05f, frame numbers crossing 9 -> 10 (``img9`` before ``img10``).
- SAMM: a ``README`` sheet first, 13 note rows before the header of ``MICRO_ONLY``, subjects
  stored as text (``'006'``) and Duration cells as formulas (as in the public
  ``SAMM_Micro_FACS_Codes_v2.xlsx``), ``Other`` rows, and 028_4_1 / 032_3_1 with their public
  frame numbers (1071/1113/1134, 4896/4930/4970: the apex inside onset..offset). Copies that
  differ (a damaged sheet) are what ``validate()`` is for: tests add such rows explicitly.
- SMIC-HS: ``s1`` folders (the MEGC list says ``s01``), a ``non_micro`` folder to ignore.
- CK+: float emotion files (``"   6.0000000e+00"``), FACS files, an unlabelled sequence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from miex.testing.frames import ClipInfo, FrameSource, default_frame_source, tiny_frames

#: 3-class label of the emotion words used in the fixtures (independent of miex.datasets' maps).
FIXTURE_THREE_CLASS: dict[str, int] = {
    "happiness": 1,
    "happy": 1,
    "positive": 1,
    "surprise": 2,
    "disgust": 0,
    "repression": 0,
    "anger": 0,
    "contempt": 0,
    "fear": 0,
    "sadness": 0,
    "negative": 0,
}


@dataclass
class Fixture:
    """A written fixture tree: its root and one row per clip written (subject, clip, emotion,
    onset, apex, offset, aus, folder, frames) plus dataset-specific columns."""

    root: Path
    clips: pd.DataFrame
    annotation: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClipSpec:
    """One annotated clip: ``apex`` may be a string (CASME II's ``"/"``); frames onset..offset are written."""

    subject: str  # local subject folder (sub01, 006, s1, S01, S005, P001)
    clip: str
    emotion: str
    onset: int
    apex: int | str
    offset: int
    aus: str = ""


# ----------------------------------------------------------------------------- helpers
def _write_image(path: Path, rgb: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.asarray(rgb, dtype=np.uint8)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")


def _apex_index(onset: int, apex: int | str, offset: int) -> int:
    n = offset - onset + 1
    if not isinstance(apex, (int, np.integer)):
        return n // 2
    return int(min(max(apex - onset, 0), n - 1))


def write_clip(
    folder: Path,
    names: Sequence[str],
    info: ClipInfo,
    frame_source: FrameSource,
) -> list[str]:
    """Render ``len(names)`` frames with ``frame_source`` and write them under ``folder``."""
    frames = frame_source(info, len(names))
    if len(frames) != len(names):
        raise ValueError(f"frame source returned {len(frames)} frames, expected {len(names)}")
    paths = []
    for name, rgb in zip(names, frames):
        _write_image(folder / name, rgb)
        paths.append(str(folder / name))
    return paths


def clip_info(dataset: str, spec: ClipSpec) -> ClipInfo:
    """What a frame source is told about a fixture clip (its 3-class label, apex position)."""
    emotion = spec.emotion.lower()
    return ClipInfo(
        dataset=dataset,
        subject=spec.subject,
        clip=spec.clip,
        emotion=emotion,
        label=FIXTURE_THREE_CLASS.get(emotion, -1),
        apex_index=_apex_index(spec.onset, spec.apex, spec.offset),
    )


def _write_sheet(path: Path, sheets: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(list(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def _row_of(spec: ClipSpec, folder: Path, frames: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "subject": spec.subject,
        "clip": spec.clip,
        "emotion": spec.emotion,
        "onset": spec.onset,
        "apex": spec.apex,
        "offset": spec.offset,
        "aus": spec.aus,
        "folder": str(folder),
        "frames": frames,
        **extra,
    }


def _source(frame_source: FrameSource | None) -> FrameSource:
    return frame_source if frame_source is not None else default_frame_source()


# ----------------------------------------------------------------------------- CASME II
CASME2_CLIPS: tuple[ClipSpec, ...] = (
    ClipSpec("sub01", "EP02_01f", "happiness", 8, 10, 12, "12"),  # img8 ... img12: 9 -> 10 crossing
    ClipSpec("sub01", "EP19_05f", "disgust", 5, 7, 9, "4+7"),
    ClipSpec("sub02", "EP01_11f", "repression", 95, 98, 101, "R14"),
    ClipSpec("sub02", "EP03_02f", "surprise", 20, 22, 24, "1+2"),
    ClipSpec("sub03", "EP01_2", "fear", 1, 3, 5, "4+5"),
    ClipSpec("sub03", "EP09_03", "sadness", 1, 2, 4, "15"),
    ClipSpec("sub04", "EP12_01f", "disgust", 30, "/", 34, "9"),  # the "/" apex quirk
    ClipSpec("sub05", "EP09_05f", "disgust", 10, 10, 13, "4+9"),  # apex = onset
    ClipSpec("sub05", "EP12_03f", "others", 40, 42, 45, "L14"),
)
CASME2_HEADER = ("Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units", "Estimated Emotion")


def casme2_frame_name(n: int, variant: str = "raw") -> str:
    return f"img{n}.jpg" if variant == "raw" else f"reg_img{n}.jpg"


def write_casme2_fixture(
    root: str | Path,
    clips: Iterable[ClipSpec] = CASME2_CLIPS,
    *,
    frame_source: FrameSource | None = None,
    variant: str = "raw",
    annotation_name: str = "CASME2-coding-20190701.xlsx",
    extra_rows: Iterable[Sequence[Any]] = (),
) -> Fixture:
    """CASME II tree: ``ROOT/CASME2-coding-*.xlsx`` + ``CASME2_RAW_selected/`` (or ``Cropped/``).
    ``extra_rows`` are appended to the sheet verbatim (malformed rows for tests); no frames."""
    root = Path(root)
    source = _source(frame_source)
    top = root / ("CASME2_RAW_selected" if variant == "raw" else "Cropped")
    rows: list[Sequence[Any]] = [CASME2_HEADER]
    written = []
    for spec in clips:
        subject_no = int(re.sub(r"\D", "", spec.subject))
        rows.append((subject_no, spec.clip, None, spec.onset, spec.apex, spec.offset, None, spec.aus, spec.emotion))
        folder = top / spec.subject / spec.clip
        names = [casme2_frame_name(n, variant) for n in range(spec.onset, spec.offset + 1)]
        written.append(_row_of(spec, folder, write_clip(folder, names, clip_info("casme2", spec), source)))
    rows.extend(extra_rows)
    sheet = root / annotation_name
    _write_sheet(sheet, [("Sheet1", rows)])
    return Fixture(root, pd.DataFrame(written), sheet)


# ----------------------------------------------------------------------------- SAMM
SAMM_CLIPS: tuple[ClipSpec, ...] = (
    ClipSpec("006", "006_1_2", "Anger", 5560, 5562, 5565, "4+7"),
    ClipSpec("006", "006_1_3", "Happiness", 1200, 1203, 1205, "R12/L12"),
    ClipSpec("007", "007_3_1", "Surprise", 300, 302, 304, "A1+2?"),
    ClipSpec("007", "007_5_2", "Contempt", 90, 92, 95, "R14"),
    ClipSpec("007", "007_6_1", "Other", 40, 41, 43, "45"),
    ClipSpec("009", "009_2_1", "Disgust", 10, 11, 13, "9+10"),
    ClipSpec("009", "009_3_4", "Fear", 20, 22, 23, "20"),
    ClipSpec("009", "009_4_1", "Sadness", 30, 31, 33, "1+4+15"),
    ClipSpec("028", "028_4_1", "Anger", 1071, 1113, 1134, "4"),  # the public v2 sheet's numbers
    ClipSpec("032", "032_3_1", "Anger", 4896, 4930, 4970, "7"),
)
SAMM_HEADER = (
    "Subject",
    "Filename",
    "Inducement Code",
    "Onset Frame",
    "Apex Frame",
    "Offset Frame",
    "Duration",
    "Micro",
    "Action Units",
    "Estimated Emotion",
    "Objective Classes",
    "Notes",
)
SAMM_NOTES: tuple[tuple[Any, ...], ...] = (
    ("SAMM - Spontaneous Actions and Micro-Movements: FACS codes (fixture written by miex.testing)",),
    ("",),
    ("Subject", "the participant number; folders are zero-padded (006)"),
    ("Filename", "subject_inducement_number"),
    ("Onset Frame", "first frame of the movement"),
    ("Apex Frame", "frame of highest intensity"),
    ("Offset Frame", "last frame of the movement"),
    ("Action Units", "L/R = left/right, A-E = intensity, ? = uncertain, / = either"),
    ("Estimated Emotion", "from the AUs and the inducement"),
    ("Objective Classes", "I-VII after Davison et al. 2018"),
    ("Micro", "micro = shorter than 500 ms"),
    ("Notes", "free text"),
    ("This sheet only lists micro-movements.",),
)
SAMM_OBJECTIVE = {"anger": 1, "contempt": 3, "disgust": 3, "fear": 4, "sadness": 6, "happiness": 5, "surprise": 2}


def samm_frame_name(subject: str, n: int) -> str:
    return f"{subject}_{n:05d}.jpg"


def write_samm_fixture(
    root: str | Path,
    clips: Iterable[ClipSpec] = SAMM_CLIPS,
    *,
    frame_source: FrameSource | None = None,
    annotation_name: str = "SAMM_Micro_FACS_Codes_v2.xlsx",
    extra_rows: Iterable[Sequence[Any]] = (),
) -> Fixture:
    """SAMM tree: ``ROOT/SAMM_Micro_FACS_Codes_v2.xlsx`` (sheet MICRO_ONLY, 13 note rows, header)
    + ``ROOT/SAMM/006/006_1_2/006_05562.jpg``. Frames onset..offset are written."""
    root = Path(root)
    source = _source(frame_source)
    rows: list[Sequence[Any]] = [*SAMM_NOTES, SAMM_HEADER]
    written = []
    for spec in clips:
        r = len(rows) + 1  # the sheet row of this clip (for the Duration formula)
        rows.append(
            (
                spec.subject,  # text, as the public sheet stores it ('006')
                spec.clip,
                int(spec.clip.split("_")[1]),
                spec.onset,
                spec.apex,
                spec.offset,
                f"=F{r}-D{r}+1",
                "Micro - 1/2",
                spec.aus,
                spec.emotion,
                SAMM_OBJECTIVE.get(spec.emotion.lower(), 7),
                None,
            )
        )
        folder = root / "SAMM" / spec.subject / spec.clip
        names = [samm_frame_name(spec.subject, n) for n in range(spec.onset, spec.offset + 1)]
        written.append(_row_of(spec, folder, write_clip(folder, names, clip_info("samm", spec), source)))
    rows.extend(extra_rows)
    sheet = root / annotation_name
    readme = [("This workbook lists the FACS codes of SAMM.",), ("See the MICRO_ONLY sheet.",)]
    _write_sheet(sheet, [("README", readme), ("MICRO_ONLY", rows)])
    return Fixture(root, pd.DataFrame(written), sheet)


# ----------------------------------------------------------------------------- SMIC-HS
SMIC_CODES = {"negative": "ne", "positive": "po", "surprise": "sur"}
#: (subject folder, category, clip folder, first frame number, number of frames)
SMIC_CLIPS: tuple[tuple[str, str, str, int, int], ...] = (
    ("s1", "negative", "s1_ne_01", 998, 6),  # image998 ... image1003: 999 -> 1000 crossing
    ("s1", "positive", "s1_po_01", 20, 5),
    ("s2", "surprise", "s2_sur_01", 7, 4),
    ("s3", "negative", "s3_ne_02", 100, 5),
    ("s3", "positive", "s3_po_03", 1, 3),
)


def smic_frame_name(n: int) -> str:
    return f"image{n}.bmp"


def write_smic_fixture(
    root: str | Path,
    clips: Iterable[tuple[str, str, str, int, int]] = SMIC_CLIPS,
    *,
    frame_source: FrameSource | None = None,
    non_micro: bool = True,
) -> Fixture:
    """SMIC-HS tree: ``ROOT/HS/s1/micro/{negative,positive,surprise}/s1_ne_01/image<n>.bmp``
    (plus a ``non_micro`` clip the loader must ignore)."""
    root = Path(root)
    source = _source(frame_source)
    written = []
    for subject, category, clip, first, n in clips:
        folder = root / "HS" / subject / "micro" / category / clip
        names = [smic_frame_name(k) for k in range(first, first + n)]
        spec = ClipSpec(subject, clip, category, first, first + n // 2, first + n - 1)
        paths = write_clip(folder, names, clip_info("smic", spec), source)
        written.append(_row_of(spec, folder, paths, category=category))
    if non_micro and written:
        subject = written[0]["subject"]
        folder = root / "HS" / subject / "non_micro" / f"{subject}_nm_01"
        spec = ClipSpec(subject, folder.name, "others", 1, 1, 2)
        write_clip(folder, [smic_frame_name(1), smic_frame_name(2)], clip_info("smic", spec), source)
    return Fixture(root, pd.DataFrame(written))


# ----------------------------------------------------------------------------- MMEW
MMEW_CLIPS: tuple[ClipSpec, ...] = (
    ClipSpec("S01", "S01-01-001", "happiness", 8, 10, 12, "6+12"),
    ClipSpec("S01", "S01-02-002", "surprise", 1, 3, 5, "1+2"),
    ClipSpec("S02", "S02-01-001", "anger", 2, 4, 6, "4+7"),
    ClipSpec("S02", "S02-03-004", "disgust", 3, 5, 7, "9"),
    ClipSpec("S03", "S03-01-003", "fear", 1, 2, 4, "20"),
    ClipSpec("S03", "S03-02-001", "sadness", 1, 2, 3, "15"),
    ClipSpec("S03", "S03-04-002", "others", 5, 6, 8, "14"),
)
MMEW_HEADER = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion", "remarks")
#: (emotion folder, clip, number of frames) of the macro part
MMEW_MACRO_CLIPS: tuple[tuple[str, str, int], ...] = (
    ("happiness", "S01_happiness_1", 4),
    ("sadness", "S02_sadness_1", 4),
)


def write_mmew_fixture(
    root: str | Path,
    clips: Iterable[ClipSpec] = MMEW_CLIPS,
    *,
    frame_source: FrameSource | None = None,
    macro: Iterable[tuple[str, str, int]] = MMEW_MACRO_CLIPS,
    annotation_name: str = "MMEW_Micro_Exp.xlsx",
    extra_rows: Iterable[Sequence[Any]] = (),
) -> Fixture:
    """MMEW tree: ``ROOT/MMEW_Micro_Exp.xlsx`` + ``Micro_Expression/{emotion}/S01-01-001/{n}.jpg``
    (+ ``Macro_Expression/{emotion}/<clip>/{n}.jpg``)."""
    root = Path(root)
    source = _source(frame_source)
    rows: list[Sequence[Any]] = [MMEW_HEADER]
    written = []
    for spec in clips:
        rows.append((spec.subject, spec.clip, spec.onset, spec.apex, spec.offset, spec.aus, spec.emotion, None))
        folder = root / "Micro_Expression" / spec.emotion / spec.clip
        names = [f"{n}.jpg" for n in range(spec.onset, spec.offset + 1)]
        written.append(_row_of(spec, folder, write_clip(folder, names, clip_info("mmew", spec), source), part="micro"))
    for emotion, clip, n in macro:
        folder = root / "Macro_Expression" / emotion / clip
        spec = ClipSpec(clip.split("_")[0], clip, emotion, 1, n, n)
        paths = write_clip(folder, [f"{k}.jpg" for k in range(1, n + 1)], clip_info("mmew", spec), source)
        written.append(_row_of(spec, folder, paths, part="macro"))
    rows.extend(extra_rows)
    sheet = root / annotation_name
    _write_sheet(sheet, [("Sheet1", rows)])
    return Fixture(root, pd.DataFrame(written), sheet)


# ----------------------------------------------------------------------------- CK+
#: (subject, sequence, number of frames, emotion code or None, FACS lines [(AU, intensity)])
CKPLUS_SEQUENCES: tuple[tuple[str, str, int, int | None, tuple[tuple[int, int], ...]], ...] = (
    ("S005", "001", 11, 3, ((9, 4), (14, 0), (17, 2))),  # disgust; frames 1..11: 9 -> 10 crossing
    ("S010", "006", 5, 6, ((1, 2), (4, 3), (15, 1))),  # sadness -> negative (not the MiE-X bug)
    ("S011", "002", 4, 5, ((6, 3), (12, 4), (25, 0))),  # happy
    ("S014", "003", 4, 7, ((1, 3), (2, 3), (5, 1), (26, 2))),  # surprise
    ("S022", "001", 3, 2, ((14, 2),)),  # contempt
    ("S026", "002", 3, None, ()),  # unlabelled
)
CKPLUS_EMOTIONS = {1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy", 6: "sadness", 7: "surprise"}


def ckplus_float(value: float) -> str:
    """CK+'s number format: ``   3.0000000e+00``."""
    return f"   {value:.7e}"


def write_ckplus_fixture(
    root: str | Path,
    sequences: Iterable[tuple[str, str, int, int | None, tuple[tuple[int, int], ...]]] = CKPLUS_SEQUENCES,
    *,
    frame_source: FrameSource | None = None,
) -> Fixture:
    """CK+ tree: ``cohn-kanade-images/S005/001/S005_001_00000011.png``, ``Emotion/.../*_emotion.txt``
    (one float) for labelled sequences, ``FACS/.../*_facs.txt`` ("AU intensity" floats)."""
    root = Path(root)
    source = _source(frame_source)
    written = []
    for subject, seq, n, code, facs in sequences:
        folder = root / "cohn-kanade-images" / subject / seq
        names = [f"{subject}_{seq}_{k:08d}.png" for k in range(1, n + 1)]
        emotion = CKPLUS_EMOTIONS.get(code, "") if code is not None else ""
        spec = ClipSpec(subject, f"{subject}_{seq}", emotion, 1, n, n)
        paths = write_clip(folder, names, clip_info("ckplus", spec), source)
        last = Path(names[-1]).stem
        if code is not None:
            path = root / "Emotion" / subject / seq / f"{last}_emotion.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(ckplus_float(code) + "\n")
        if facs:
            path = root / "FACS" / subject / seq / f"{last}_facs.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{ckplus_float(au)}{ckplus_float(i)}\n" for au, i in facs))
        written.append(_row_of(spec, folder, paths, code=code if code is not None else -1))
    return Fixture(root, pd.DataFrame(written))


# ----------------------------------------------------------------------------- Oulu-CASIA
OULU_CLIPS: tuple[tuple[str, str, int], ...] = (
    ("P001", "Anger", 4),
    ("P001", "Happiness", 12),  # 000 ... 011
    ("P001", "Surprise", 3),
    ("P002", "Sadness", 3),
    ("P002", "Disgust", 3),
    ("P002", "Fear", 3),
)


def write_oulu_fixture(
    root: str | Path,
    clips: Iterable[tuple[str, str, int]] = OULU_CLIPS,
    *,
    frame_source: FrameSource | None = None,
    recordings: Iterable[tuple[str, str]] = (("VL", "Strong"), ("NI", "Weak")),
) -> Fixture:
    """Oulu-CASIA tree: ``OriginalImg/{VL,NI}/{Strong,Weak,Dark}/P001/Anger/000.jpeg``."""
    root = Path(root)
    source = _source(frame_source)
    written = []
    for modality, light in recordings:
        for subject, emotion, n in clips:
            folder = root / "OriginalImg" / modality / light / subject / emotion
            spec = ClipSpec(subject, f"{subject}_{emotion}", emotion, 0, n - 1, n - 1)
            paths = write_clip(folder, [f"{k:03d}.jpeg" for k in range(n)], clip_info("oulu", spec), source)
            written.append(_row_of(spec, folder, paths, modality=modality, illumination=light))
    return Fixture(root, pd.DataFrame(written))


# ----------------------------------------------------------------------------- miex synth output
def write_synthetic_fixture(
    root: str | Path,
    *,
    faces: Sequence[str] = ("000000", "000001"),
    sources: Sequence[str] = ("expert", "mie"),
    n_frames: int = 2,
    frame_source: FrameSource | None = None,
    au_subjects: Sequence[str] = ("casme2/sub01", "casme2/sub02"),
) -> Fixture:
    """A ``miex synth``-like output: ``<faceid>_<source>_<label>/0.jpg..`` + ``manifest.parquet``
    with the columns of docs/INTERFACES.md (AU values from :func:`~miex.testing.frames.clip_zs`)."""
    from miex.au.space import AU_NAMES
    from miex.testing.frames import clip_zs

    root = Path(root)
    source = frame_source if frame_source is not None else tiny_frames(16)
    emotions = {0: "disgust", 1: "happiness", 2: "surprise"}
    rows = []
    k = 0
    for face in faces:
        for src in sources:
            for label in (0, 1, 2):
                name = f"{face}_{src}_{label}"
                info = ClipInfo("miex", face, name, emotions[label], label, n_frames - 1)
                write_clip(root / name, [f"{i}.jpg" for i in range(n_frames)], info, source)
                zs = clip_zs(info, 2)
                mie = src == "mie"
                row = {
                    "sample_id": k,
                    "dir": name,
                    "face_id": face,
                    "face_path": f"faces/{face}.jpg",
                    "source": src,
                    "label": label,
                    "emotion": emotions[label],
                }
                row.update({f"onset_{a}": float(v) for a, v in zip(AU_NAMES, zs[0])})
                row.update({f"apex_{a}": float(v) for a, v in zip(AU_NAMES, zs[-1])})
                row.update(
                    {
                        "au_dataset": "casme2" if mie else "",
                        "au_subject": au_subjects[k % len(au_subjects)] if mie else "",
                        "au_clip": f"EP0{label + 1}_01" if mie else "",
                        "onset_frame": "10" if mie else "",
                        "apex_frame": "12" if mie else "",
                        "generator": "warp",
                        "seed": 0,
                    }
                )
                rows.append(row)
                k += 1
    manifest = pd.DataFrame(rows)
    from miex.io import write_parquet

    write_parquet(root / "manifest.parquet", manifest)
    return Fixture(root, manifest, root / "manifest.parquet")


# ----------------------------------------------------------------------------- MEGC2019 composite
CASME2_NEGATIVE_WORDS = ("disgust", "repression")
SAMM_NEGATIVE_WORDS = ("Anger", "Contempt", "Disgust", "Fear", "Sadness")
#: CASME II rows the official list leaves out, written into the composite fixture.
CASME2_COMPOSITE_EXTRAS: tuple[ClipSpec, ...] = (
    ClipSpec("sub04", "EP12_01f", "disgust", 30, "/", 32, "9"),
    ClipSpec("sub05", "EP09_05f", "disgust", 10, 10, 12, "4+9"),
    ClipSpec("sub01", "EP40_01", "fear", 5, 6, 7, "4+5"),
    ClipSpec("sub02", "EP40_02", "sadness", 5, 6, 7, "15"),
    ClipSpec("sub03", "EP40_03", "others", 5, 6, 7, "L14"),
    ClipSpec("sub26", "EP40_04", "others", 5, 6, 7, "45"),
)
SAMM_COMPOSITE_EXTRAS: tuple[ClipSpec, ...] = (
    ClipSpec("006", "006_9_9", "Other", 100, 101, 102, "45"),
    ClipSpec("011", "011_9_9", "Other", 100, 101, 102, "R14"),
)


def write_megc_composite_fixture(
    root: str | Path,
    *,
    frame_source: FrameSource | None = None,
    n_frames: int = 3,
    list_path: str | Path | None = None,
) -> dict[str, Path]:
    """All 442 clips of the official MEGC2019 list in the CASME II, SAMM and SMIC-HS layouts, with
    annotation spreadsheets consistent with the list's labels (CASME II negative = disgust or
    repression, SAMM negative = anger/contempt/disgust/fear/sadness) plus rows the composite must
    drop (CASME II fear, sadness, others, sub04/EP12_01f with apex "/", sub05/EP09_05f with
    apex = onset; SAMM "Other").

    Frames default to 8x8 noise. Returns ``{"casme2": root, "samm": root, "smic": root}``.
    """
    from miex.datasets.megc2019 import read_official_list

    root = Path(root)
    source = frame_source if frame_source is not None else tiny_frames(8)
    official = read_official_list(list_path)
    casme2, samm = [], []
    smic_clips = []
    neg_counter = {"casme2": 0, "samm": 0}
    for i, item in enumerate(official.itertuples(index=False)):
        label = int(item.label)
        start = 10 + 7 * (i % 5)  # varied frame numbers, some crossing 9 -> 10 style boundaries
        if item.dataset == "casme2":
            if label == 0:
                emotion = CASME2_NEGATIVE_WORDS[neg_counter["casme2"] % 2]
                neg_counter["casme2"] += 1
            else:
                emotion = {1: "happiness", 2: "surprise"}[label]
            mid = start + (n_frames - 1) // 2
            casme2.append(ClipSpec(item.subject, item.filename, emotion, start, mid, start + n_frames - 1))
        elif item.dataset == "samm":
            if label == 0:
                emotion = SAMM_NEGATIVE_WORDS[neg_counter["samm"] % len(SAMM_NEGATIVE_WORDS)]
                neg_counter["samm"] += 1
            else:
                emotion = {1: "Happiness", 2: "Surprise"}[label]
            folder = f"{int(item.subject):03d}"
            onset, apex, offset = start, start + (n_frames - 1) // 2, start + n_frames - 1
            samm.append(ClipSpec(folder, item.filename, emotion, onset, apex, offset))
        else:
            m = re.fullmatch(r"s0*(\d+)_(ne|po|sur)_(\d+)", item.filename)
            if m is None:
                raise ValueError(f"unexpected SMIC filename {item.filename!r}")
            subject = f"s{int(m.group(1))}"
            category = {"ne": "negative", "po": "positive", "sur": "surprise"}[m.group(2)]
            smic_clips.append((subject, category, f"{subject}_{m.group(2)}_{m.group(3)}", start, n_frames))
    listed = {(c.subject, c.clip) for c in casme2} | {(c.subject, c.clip) for c in samm}
    for extra in (*CASME2_COMPOSITE_EXTRAS, *SAMM_COMPOSITE_EXTRAS):
        if (extra.subject, extra.clip) in listed:
            raise ValueError(f"fixture extra clip {extra.subject}/{extra.clip} collides with the official list")
    write_casme2_fixture(root / "casme2", [*casme2, *CASME2_COMPOSITE_EXTRAS], frame_source=source)
    write_samm_fixture(root / "samm", [*samm, *SAMM_COMPOSITE_EXTRAS], frame_source=source)
    write_smic_fixture(root / "smic", smic_clips, frame_source=source)
    return {"casme2": root / "casme2", "samm": root / "samm", "smic": root / "smic"}


# ----------------------------------------------------------------------------- CAS(ME)^3 Part A
@dataclass(frozen=True)
class Casme3Row:
    """One row of the CAS(ME)^3 ME label sheet: ``video`` is the Filename cell (``a`` ... ``m``),
    frame numbers are those of the whole video."""

    subject: str  # spNO.1
    video: str
    onset: int
    apex: int
    offset: int
    au: str
    objective: str  # I ... VII
    emotion: str


#: Quirks of the public ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx``: two MEs in one video
#: (spNO.1/e, sharing frame 96), the upper-case video ``J`` (folder ``j``), ``Others`` next to
#: ``others``, an apex before the onset and an offset of ``0`` (as spNO.149/d and spNO.40/e).
CASME3_ROWS: tuple[Casme3Row, ...] = (
    Casme3Row("spNO.1", "a", 355, 359, 360, "5", "II", "others"),
    Casme3Row("spNO.1", "b", 166, 175, 179, "4", "III", "disgust"),
    Casme3Row("spNO.1", "e", 90, 93, 96, "R12", "I", "happy"),
    Casme3Row("spNO.1", "e", 96, 102, 106, "R12", "I", "happy"),
    Casme3Row("spNO.1", "h", 181, 185, 194, "38", "VII", "surprise"),
    Casme3Row("spNO.2", "c", 40, 44, 48, "4+7", "III", "anger"),
    Casme3Row("spNO.2", "d", 90, 93, 97, "1+2", "II", "surprise"),
    Casme3Row("spNO.2", "J", 8, 10, 12, "12", "VII", "happy"),
    Casme3Row("spNO.3", "f", 20, 23, 26, "15", "VI", "sad"),
    Casme3Row("spNO.3", "g", 30, 33, 35, "4+9", "IV", "fear"),
    Casme3Row("spNO.3", "k", 50, 52, 55, "14", "VII", "Others"),
    Casme3Row("spNO.3", "l", 70, 65, 75, "4", "III", "disgust"),  # apex before onset
    Casme3Row("spNO.3", "m", 80, 84, 0, "18", "VII", "others"),  # offset 0
)
CASME3_HEADER = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion")
#: MaE label file rows (sub, seq, onset, apex, offset, au, emotion; happiness/sadness spelled out)
CASME3_MAE_ROWS: tuple[Casme3Row, ...] = (
    Casme3Row("spNO.1", "a", 37, 50, 65, "4+15+R10", "", "disgust"),
    Casme3Row("spNO.2", "c", 5, 12, 20, "6+12", "", "happiness"),
    Casme3Row("spNO.3", "f", 60, 66, 72, "1+4+15", "", "sadness"),
)
CASME3_MAE_HEADER = ("sub", "seq", "onset", "apex", "offset", "au", "emotion")
CASME3_PAD = 2  # frames written before the first and after the last annotated frame of a video


def _casme3_label(emotion: str) -> int:
    word = emotion.lower()
    return {"happy": 1, "happiness": 1, "surprise": 2}.get(word, -1 if word in ("others", "other") else 0)


def _casme3_span(r: Casme3Row, written: bool = False) -> tuple[int, int]:
    """Frames a row covers (smallest to largest annotated frame). ``written``: the frames the
    fixture writes, which for an offset of 0 (a typo for a later frame) end at the apex."""
    values = [r.onset, r.apex] + ([r.offset] if r.offset > 0 or not written else [])
    return min(values), max(values)


def _casme3_render(subject: str, video: str, items: list[Casme3Row], source: FrameSource) -> dict[int, np.ndarray]:
    """Frames of one video: each ME rendered over its own span (neutral at its onset, the motion
    of its emotion at its apex); frames outside every ME repeat the first neutral frame."""
    out: dict[int, np.ndarray] = {}
    for r in sorted(items, key=lambda r: r.onset):
        lo, hi = _casme3_span(r, written=True)
        numbers = list(range(lo, hi + 1))
        apex = numbers.index(r.apex) if r.apex in numbers else 0
        info = ClipInfo("casme3", subject, f"{video}_{r.onset}", r.emotion.lower(), _casme3_label(r.emotion), apex)
        for n, image in zip(numbers, source(info, len(numbers))):
            out.setdefault(n, image)
    return out


def _casme3_video_ranges(rows: Iterable[Casme3Row]) -> dict[tuple[str, str], list[Casme3Row]]:
    videos: dict[tuple[str, str], list[Casme3Row]] = {}
    for r in rows:
        videos.setdefault((r.subject, r.video.lower()), []).append(r)
    return videos


def write_casme3_fixture(
    root: str | Path,
    rows: Iterable[Casme3Row] = CASME3_ROWS,
    *,
    frame_source: FrameSource | None = None,
    mae_rows: Iterable[Casme3Row] = CASME3_MAE_ROWS,
    annotation_name: str = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
    extra_rows: Iterable[Sequence[Any]] = (),
    depth: bool = True,
    layout: str = "videos",
    folder_subject: str = "spNO",
) -> Fixture:
    """CAS(ME)^3 Part A tree::

        ROOT/part_A/annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx   sheets label, Sheet1, Sheet3
        ROOT/part_A/annotation/cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx (when mae_rows)
        ROOT/part_A/data/part_A/spNO.1/a/color/<n>.jpg    ROOT/.../a/depth/<n>.png (onset/apex)

    Every cell of the ME sheet is text, as in the public v2 file. Each video gets the frames of
    its annotated ranges (onset..offset, or the span of onset/apex/offset when they are out of
    order) plus ``CASME3_PAD`` neutral frames either side; each ME is rendered over its own span.
    ``extra_rows`` are appended verbatim (malformed rows for tests).

    ``layout="clips"`` writes the pre-cut clip package instead (no MaE file)::

        ROOT/annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx
        ROOT/Part_A_ME_clip/frame/spNO.1_a_355/355.jpg ...   ROOT/Part_A_ME_clip/depth/spNO.1_a_355/355.png

    with the clip folders' subjects spelled ``folder_subject`` (``spNo`` in some copies)."""
    if layout == "clips":
        return _write_casme3_clips(Path(root), list(rows), _source(frame_source), annotation_name, extra_rows,
                                   depth, folder_subject)
    import cv2

    root = Path(root)
    source = _source(frame_source)
    rows, mae_rows = list(rows), list(mae_rows)
    base = root / "part_A" / "data" / "part_A"
    written = []
    for (subject, video), items in _casme3_video_ranges(rows + mae_rows).items():
        folder = base / subject / video / "color"
        by_number = _casme3_render(subject, video, items, source)
        neutral = by_number[min(by_number)]
        spans = [_casme3_span(r, written=True) for r in items]
        numbers = sorted({n for lo, hi in spans for n in range(max(0, lo - CASME3_PAD), hi + CASME3_PAD + 1)})
        paths = {}
        for n in numbers:
            _write_image(folder / f"{n}.jpg", by_number.get(n, neutral))
            paths[n] = str(folder / f"{n}.jpg")
        for r in items:
            if depth:
                for n in (r.onset, r.apex):
                    target = base / subject / video / "depth" / f"{n}.png"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(target), np.full((8, 8), 600 + n % 50, np.uint16))
            lo, hi = _casme3_span(r)
            written.append({
                "subject": subject, "clip": f"{video}_{r.onset}", "video": r.video, "emotion": r.emotion,
                "onset": r.onset, "apex": r.apex, "offset": r.offset, "aus": r.au, "objective": r.objective,
                "folder": str(folder), "frames": [paths[n] for n in numbers if lo <= n <= hi],
                "part": "micro" if r in rows else "macro",
            })
    sheet = root / "part_A" / "annotation" / annotation_name
    _write_casme3_sheet(sheet, rows, extra_rows)
    extra: dict[str, Any] = {}
    if mae_rows:
        mae = root / "part_A" / "annotation" / "cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx"
        _write_sheet(mae, [("Sheet1", [CASME3_MAE_HEADER] + [
            (r.subject, r.video, r.onset, r.apex, r.offset, r.au, r.emotion) for r in mae_rows])])
        extra["mae_annotation"] = mae
    return Fixture(root, pd.DataFrame(written), sheet, extra)


def _write_casme3_sheet(sheet: Path, rows: Sequence[Casme3Row], extra_rows: Iterable[Sequence[Any]]) -> None:
    """The ME label file: sheet ``label`` with every cell as text, then blank Sheet1 and Sheet3."""
    table: list[Sequence[Any]] = [CASME3_HEADER]
    table += [(r.subject, r.video, str(r.onset), str(r.apex), str(r.offset), r.au, r.objective, r.emotion) for r in rows]
    table += list(extra_rows)
    _write_sheet(sheet, [("label", table), ("Sheet1", []), ("Sheet3", [])])


def _write_casme3_clips(
    root: Path,
    rows: list[Casme3Row],
    source: FrameSource,
    annotation_name: str,
    extra_rows: Iterable[Sequence[Any]],
    depth: bool,
    folder_subject: str,
) -> Fixture:
    import cv2

    written = []
    for r in rows:
        name = f"{r.subject.replace('spNO', folder_subject)}_{r.video}_{r.onset}"
        folder = root / "Part_A_ME_clip" / "frame" / name
        by_number = _casme3_render(r.subject, r.video.lower(), [r], source)
        paths = []
        for n in sorted(by_number):
            _write_image(folder / f"{n}.jpg", by_number[n])
            paths.append(str(folder / f"{n}.jpg"))
            if depth:
                target = root / "Part_A_ME_clip" / "depth" / name / f"{n}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(target), np.full((8, 8), 600 + n % 50, np.uint16))
        written.append({
            "subject": r.subject, "clip": f"{r.video.lower()}_{r.onset}", "video": r.video, "emotion": r.emotion,
            "onset": r.onset, "apex": r.apex, "offset": r.offset, "aus": r.au, "objective": r.objective,
            "folder": str(folder), "frames": paths, "part": "micro",
        })
    sheet = root / "annotation" / annotation_name
    _write_casme3_sheet(sheet, rows, extra_rows)
    return Fixture(root, pd.DataFrame(written), sheet)


# ----------------------------------------------------------------------------- 4DME
#: 4DME clips: multi-label emotions (``Surprise+Positive``), ``(k)``-marked AUs, frames 9 -> 10.
FOURDME_CLIPS: tuple[ClipSpec, ...] = (
    ClipSpec("S01", "S01_1st_001_01_1", "Negative", 120, 124, 128, "AU4+AU7(k)"),
    ClipSpec("S01", "S01_1st_002_01_1", "Positive", 300, 303, 306, "AU6+AU12"),
    ClipSpec("S02", "S02_1st_001_01_1", "Surprise", 50, 52, 55, "AU1+AU2"),
    ClipSpec("S02", "S02_2nd_003_02_1", "Surprise+Positive", 10, 12, 14, "AUR2+12(k)+45"),
    ClipSpec("S03", "S03_1st_004_01_2", "Negative+Others", 200, 202, 205, "AU4+L7"),
    ClipSpec("S03", "S03_1st_005_01_1", "Repression", 8, 9, 11, "AU14"),
    ClipSpec("S04", "S04_1st_001_01_1", "Others", 40, 41, 43, "AU45"),
    ClipSpec("S04", "S04_2nd_002_01_1", "Positive+Repression", 60, 62, 64, "AU12+AU14"),
)
FOURDME_HEADER = ("sub_ID", "fold_name", "Onset", "Apex", "Offset", "AUs", "Emotion")
#: 3-class label of each 4DME emotion cell under miex's documented rule (multi_label="exclude")
FOURDME_THREE_CLASS = {"Negative": 0, "Positive": 1, "Surprise": 2, "Negative+Others": 0, "Repression": 0}


def write_fourdme_fixture(
    root: str | Path,
    clips: Iterable[ClipSpec] = FOURDME_CLIPS,
    *,
    frame_source: FrameSource | None = None,
    annotation_name: str = "4DME_Labelling_Micro_release v1.xlsx",
    apostrophes: bool = False,
    flat: bool = False,
    renumbered: Iterable[str] = (),
    extra_rows: Iterable[Sequence[Any]] = (),
) -> Fixture:
    """4DME tree: ``ROOT/4DME_Labelling_Micro_release v1.xlsx`` + ``ROOT/gray_micro/S01/<fold_name>/<n>.jpg``
    (grey frames onset..offset). ``apostrophes``: headers as in earlier label files (``sub_ID'``);
    ``flat``: clip folders directly under ``gray_micro/``; ``renumbered``: fold names whose frame
    files are numbered 1..n instead of with the video's frame numbers."""
    import cv2

    root = Path(root)
    source = _source(frame_source)
    renumbered = set(renumbered)
    header = tuple(f"{h}'" for h in FOURDME_HEADER) if apostrophes else FOURDME_HEADER
    rows: list[Sequence[Any]] = [header]
    written = []
    for spec in clips:
        rows.append((spec.subject, spec.clip, spec.onset, spec.apex, spec.offset, spec.aus, spec.emotion))
        folder = root / "gray_micro" / ("" if flat else spec.subject) / spec.clip
        n = spec.offset - spec.onset + 1
        numbers = range(1, n + 1) if spec.clip in renumbered else range(spec.onset, spec.offset + 1)
        info = ClipInfo("4dme", spec.subject, spec.clip, spec.emotion.lower(),
                        FOURDME_THREE_CLASS.get(spec.emotion, -1), _apex_index(spec.onset, spec.apex, spec.offset))
        grey = [cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB) for f in source(info, n)]
        paths = write_clip(folder, [f"{k}.jpg" for k in numbers], info, lambda _i, _n: grey)
        written.append(_row_of(spec, folder, paths, renumbered=spec.clip in renumbered))
    rows.extend(extra_rows)
    sheet = root / annotation_name
    _write_sheet(sheet, [("Sheet1", rows)])
    return Fixture(root, pd.DataFrame(written), sheet)
