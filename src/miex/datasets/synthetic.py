"""A ``miex synth`` output folder (MiE-X layout) as a dataset.

Layout::

    ROOT/manifest.parquet                     sample_id, dir, face_id, face_path, source, label,
                                              emotion, onset_AU*, apex_AU*, au_dataset, au_subject,
                                              au_clip, onset_frame, apex_frame, generator, seed
    ROOT/<faceid>_<source>_<label>/0.jpg      onset
                                   1.jpg      apex (or 0.jpg ... 9.jpg for videos, or a whole
                                              clip: the manifest's apex_index is the apex)

The subject is the face identity (``miex/<face_id>``, plus a ``face_id`` column), so that
subject-wise protocols group all samples of one face. The provenance columns of the manifest
(``source``, ``au_dataset``, ``au_subject``, ``au_clip``, ...) are kept in ``samples``:
training must drop samples whose AUs came from its test subjects (see :meth:`exclude_au_subjects`).
Without a manifest, sample folders are found by their ``<faceid>_<source>_<label>`` names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from miex.datasets.base import SAMPLE_COLUMNS, MiexDataset, frame_number, list_frames
from miex.errors import MiexError
from miex.subjects import is_qualified

_DIR_NAME = re.compile(r"(?P<face>.+)_(?P<source>[A-Za-z0-9]+)_(?P<label>[012])")
#: Columns a manifest must have (``apex_index`` / ``n_frames`` are used when present).
MANIFEST_REQUIRED: tuple[str, ...] = ("dir", "face_id", "label")


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value) and str(value) != ""


class MiexSynthetic(MiexDataset):
    """Synthetic MiE-X samples. 3-class labels from the manifest; native classes are the
    manifest's ``emotion`` strings (sorted)."""

    name = "miex"
    THREE_CLASS_MAP: dict[str, int] = {}
    NATIVE_CLASSES: tuple[str, ...] = ()

    @property
    def frames_cropped(self) -> bool:
        return True  # miex synth writes aligned face crops

    def __init__(self, root: str | Path, **kw: Any) -> None:
        if root is None:
            raise MiexError("MiexSynthetic needs the miex synth output folder as root")
        super().__init__(root, **kw)

    def _scan(self) -> list[dict[str, Any]]:
        manifest = self.root / "manifest.parquet"
        table = self._read_manifest(manifest) if manifest.is_file() else self._table_from_folders()
        if "emotion" not in table.columns:
            table["emotion"] = table["label"].map({0: "negative", 1: "positive", 2: "surprise"})
        emotions = sorted({str(e) for e in table["emotion"].dropna()})
        self.NATIVE_CLASSES = tuple(e.lower() for e in emotions)
        records = []
        for row in table.to_dict("records"):
            rec = self._sample_record(row)
            if rec is not None:
                records.append(rec)
        return records

    def _read_manifest(self, manifest: Path) -> pd.DataFrame:
        """The manifest, its schema checked; provenance subjects must be dataset-qualified."""
        try:
            table = pd.read_parquet(manifest)
        except Exception as exc:  # noqa: BLE001 - corrupt parquet
            raise MiexError(f"{manifest}: cannot read manifest: {type(exc).__name__}: {exc}") from None
        missing = sorted(set(MANIFEST_REQUIRED) - set(table.columns))
        if missing:
            raise MiexError(f"{manifest}: not a miex synth manifest (missing columns {', '.join(missing)})")
        if "au_subject" in table.columns:
            real = table[table.get("source", pd.Series("", index=table.index)).astype(str) != "expert"]
            bare = sorted({str(s) for s in real["au_subject"].fillna("") if not is_qualified(str(s))})
            if bare:
                raise MiexError(f"{manifest}: au_subject {bare[0]!r} has no dataset ({len(bare)} such subject(s)); "
                                "the leakage exclusion needs dataset-qualified subjects: rebuild the AU pool "
                                "with --dataset NAME (or a dataset column) and re-run miex synth")
        return table

    def _sample_record(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """One sample folder as a clip record. The manifest's ``apex_index`` and ``n_frames``
        decide the apex and check the folder (``--frames clip`` sets end back at neutral, so the
        last frame is no apex); without them (a released MiE-X folder) the apex is the last frame."""
        face = str(row["face_id"])
        clip = str(row["dir"]).rstrip("/")
        key = f"{face}/{clip}"
        try:
            label = int(row["label"])
        except (TypeError, ValueError):
            label = -1
        if label not in (0, 1, 2):
            self._problem(key, "malformed_row", f"manifest label {row['label']!r} is not 0, 1 or 2; row skipped")
            return None
        folder = self.root / clip
        frames = list_frames(folder) if folder.is_dir() else []
        apex_index = len(frames) - 1
        if _given(row.get("n_frames")):
            if len(frames) != int(row["n_frames"]) and frames:
                self._problem(key, "incomplete_clip", f"{folder} holds {len(frames)} frame(s), the manifest says "
                                                      f"{int(row['n_frames'])}; sample skipped")
                return None
        if _given(row.get("apex_index")):
            apex_index = int(row["apex_index"])
            if frames and not 0 <= apex_index < len(frames):
                self._problem(key, "malformed_row", f"apex_index {apex_index} outside the {len(frames)} frame(s) "
                                                    f"of {folder}; sample skipped")
                return None
        extra = {k: v for k, v in row.items() if k not in SAMPLE_COLUMNS and k not in ("dir", "label", "emotion")}
        extra["manifest_label"] = label
        rec = self._clip_record(
            local_subject=face,
            clip=clip,
            folder=folder,
            native_label=str(row.get("emotion", "")),
            onset=frame_number(frames[0]) if frames else None,
            apex=frame_number(frames[apex_index]) if frames else None,
            offset=frame_number(frames[-1]) if frames else None,
            **extra,
        )
        if rec is not None:
            rec["face_id"] = face
        return rec

    def _table_from_folders(self) -> pd.DataFrame:
        rows = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            m = _DIR_NAME.fullmatch(folder.name)
            if m:
                rows.append(
                    {"dir": folder.name, "face_id": m["face"], "source": m["source"], "label": int(m["label"])}
                )
        if not rows:
            raise MiexError(f"{self.root}: no manifest.parquet and no <faceid>_<source>_<label> sample folders")
        return pd.DataFrame(rows)

    def _build_annotations(self, records: list[dict[str, Any]]) -> pd.DataFrame:
        df = super()._build_annotations(records)
        if len(df):
            df["label3"] = df["manifest_label"].astype("int64")
        return df

    def exclude_au_subjects(self, subjects: Iterable[str]) -> pd.DataFrame:
        """``samples`` without the rows whose AUs came from ``subjects`` (qualified, e.g.
        ``casme2/sub01``): the leakage-free training set of a fold."""
        banned = set(subjects)
        if "au_subject" not in self.samples.columns:
            return self.samples.copy()
        return self.samples[~self.samples["au_subject"].astype(str).isin(banned)].reset_index(drop=True)
