"""Read OpenFace 2.x CSV files into miex AU tables.

Supported files
---------------
* **FeatureExtraction** (video / image sequence): header starts with
  ``frame, face_id, timestamp, confidence, success``, followed by the optional gaze, pose,
  landmark and shape-parameter blocks, then ``AU01_r … AU45_r`` (17) and ``AU01_c … AU45_c``
  (18, AU28_c included).
* **FaceLandmarkImg** (single image): header starts with ``face, confidence`` and has no
  ``frame`` nor ``success`` column.

OpenFace 2.0/2.1 separate fields with ``", "``, 2.2 with ``","``; names are stripped either way.
Columns are selected by name, never by position, so optional blocks, missing ``_c`` columns and
extra columns (forks add ``_d`` distances) do not matter.

Returned AU table (see ``docs/INTERFACES.md``)
----------------------------------------------
An int column ``frame`` followed by ``AU01 … AU45`` with ``z = AUxx_r / 5`` clipped to [0, 1].

* Video mode: ``frame`` is OpenFace's own ``frame`` column (1-based). If several faces share a
  frame (FaceLandmarkVidMulti), the most confident one is kept.
* Image mode: ``frame`` is the 0-based row position in the file, which for FaceLandmarkImg is
  the ``face`` index within the image.
* Rows with ``success == 0`` or ``confidence < min_confidence`` are dropped. The default
  threshold :data:`DEFAULT_MIN_CONFIDENCE` = 0.8 is the usual cut in AU studies that use
  OpenFace (its tracker reports 0.9-0.98 on frontal, well-lit faces; values below 0.8 mean
  the landmarks, and thus the AUs, are unreliable). Pass ``min_confidence=0`` to keep every
  successfully tracked row.
* ``df.attrs``: ``source`` (path), ``dropped`` (rows dropped), ``rows`` (rows in the file),
  ``mode`` (``"video"`` or ``"image"``).

A malformed file raises one :class:`miex.errors.InputError` naming it.

miex's own AU-table CSVs (``frame, AU01 … AU45``, z in [0, 1], as written by
``miex aus extract``) are read as they are (``mode`` ``"au_table"``); when they carry the
built-in estimator's ``confidence`` / ``success`` columns, rows with ``success == 0`` or
``confidence < min_confidence`` are dropped exactly as for OpenFace files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from miex.au.space import AU_NAMES, OPENFACE_R_NAMES, from_openface
from miex.errors import InputError, MiexError, SkipLog

#: Rows whose landmark-tracking confidence is below this are dropped.
DEFAULT_MIN_CONFIDENCE = 0.8

_META = ("frame", "face", "confidence", "success")
_AU_TABLE = frozenset(name.lower() for name in AU_NAMES)


def read_openface_csv(path: str | os.PathLike[str], *, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> pd.DataFrame:
    """Read one OpenFace 2.x CSV (video or image mode) into an AU table.

    Raises :class:`InputError` for a missing, empty or malformed file.
    """
    path = Path(path)
    raw = _read_raw(path)
    names = {c: c.strip() for c in raw.columns}
    raw = raw.rename(columns=names)
    lower = {c.lower(): c for c in raw.columns}

    r_cols = [lower.get(name.lower()) for name in OPENFACE_R_NAMES]
    if not any(r_cols) and "frame" in lower and all(name.lower() in lower for name in AU_NAMES):
        return _read_au_table(raw, lower, path, min_confidence)
    if not any(r_cols):
        raise InputError(path, "no AU intensity columns (AU01_r … AU45_r); is this an OpenFace CSV?")
    missing = [name for name, col in zip(OPENFACE_R_NAMES, r_cols) if col is None]
    if missing:
        raise InputError(path, f"missing AU intensity column(s) {', '.join(missing)}")
    if raw.empty:
        raise InputError(path, "header but no data rows")

    meta = {key: lower.get(key) for key in _META}
    mode = "video" if meta["frame"] is not None else "image"
    numeric = {col: _numeric(raw, col, path) for col in [*r_cols, *(c for c in meta.values() if c)]}

    n_rows = len(raw)
    keep = np.ones(n_rows, dtype=bool)
    if meta["success"] is not None:
        keep &= numeric[meta["success"]] != 0
    if meta["confidence"] is not None:
        keep &= numeric[meta["confidence"]] >= min_confidence

    if mode == "video":
        frames_f = numeric[meta["frame"]]
        if not np.all(frames_f == np.round(frames_f)):
            raise InputError(path, "column 'frame' has non-integer values")
        frames = frames_f.astype(np.int64)
    else:
        frames = np.arange(n_rows, dtype=np.int64)

    z = from_openface(np.column_stack([numeric[c] for c in r_cols]))
    table = pd.DataFrame(z[keep], columns=list(AU_NAMES))
    table.insert(0, "frame", frames[keep])
    if mode == "video" and table["frame"].duplicated().any():
        conf = numeric[meta["confidence"]][keep] if meta["confidence"] else np.zeros(int(keep.sum()))
        table = (
            table.assign(_conf=conf)
            .sort_values(["frame", "_conf"], ascending=[True, False], kind="stable")
            .drop_duplicates("frame")
            .drop(columns="_conf")
        )
    table = table.sort_values("frame", kind="stable").reset_index(drop=True)
    table["frame"] = table["frame"].astype(np.int64)
    table.attrs.update(source=str(path), dropped=int(n_rows - keep.sum()), rows=n_rows, mode=mode)
    return table


def _read_au_table(raw: pd.DataFrame, lower: dict[str, str], path: Path, min_confidence: float) -> pd.DataFrame:
    """A miex AU-table CSV (``frame, AU01 … AU45``, z in [0, 1]; optional ``confidence`` and
    ``success`` columns, as the built-in estimator writes them, filter rows like OpenFace's)."""
    if raw.empty:
        raise InputError(path, "header but no data rows")
    frames_f = _numeric(raw, lower["frame"], path)
    if not np.all(frames_f == np.round(frames_f)):
        raise InputError(path, "column 'frame' has non-integer values")
    z = np.column_stack([_numeric(raw, lower[name.lower()], path) for name in AU_NAMES])
    if z.min() < 0.0 or z.max() > 1.0:
        raise InputError(path, "AU values outside [0, 1] in an AU table (OpenFace 0-5 intensities go in AUxx_r columns)")
    keep = np.ones(len(raw), dtype=bool)
    if "success" in lower:
        keep &= _numeric(raw, lower["success"], path) != 0
    if "confidence" in lower:
        keep &= _numeric(raw, lower["confidence"], path) >= min_confidence
    table = pd.DataFrame(z[keep], columns=list(AU_NAMES))
    table.insert(0, "frame", frames_f[keep].astype(np.int64))
    if table["frame"].duplicated().any():
        raise InputError(path, "duplicate frame numbers")
    table = table.sort_values("frame", kind="stable").reset_index(drop=True)
    table.attrs.update(source=str(path), dropped=int(len(raw) - keep.sum()), rows=len(raw), mode="au_table")
    return table


def read_openface_dir(
    folder: str | os.PathLike[str],
    *,
    pattern: str = "*.csv",
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    skips: SkipLog | None = None,
) -> dict[str, pd.DataFrame]:
    """Read every CSV in ``folder`` (not recursive), keyed by file stem, in sorted name order.

    A malformed file raises :class:`InputError`, or is logged to ``skips`` and left out when a
    :class:`SkipLog` is given.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MiexError(f"{folder}: not a folder of OpenFace CSVs")
    tables: dict[str, pd.DataFrame] = {}
    for path in sorted(folder.glob(pattern)):
        if not path.is_file():
            continue
        try:
            tables[path.stem] = read_openface_csv(path, min_confidence=min_confidence)
        except InputError as exc:
            if skips is None:
                raise
            skips.add(exc.path, exc.reason)
    return tables


def _read_raw(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(path, "file not found" if not path.exists() else "not a file")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file")

    def wanted(name: str) -> bool:
        key = name.strip().lower()
        return key in _META or key.startswith("au") and (key.endswith("_r") or key in _AU_TABLE)

    try:
        return pd.read_csv(
            path,
            usecols=wanted,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError:
        raise InputError(path, "empty file") from None
    except pd.errors.ParserError as exc:
        raise InputError(path, f"malformed CSV: {str(exc).strip()}") from None
    except UnicodeDecodeError:
        raise InputError(path, "not a text CSV file (cannot decode as UTF-8)") from None


def _numeric(raw: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    text = raw[col].astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(path, f"non-numeric value {text.iloc[row]!r} in column {col!r} (line {row + 2})")
    return values
