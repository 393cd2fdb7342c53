"""AU triplet pools: one row per ``(z_onset, z_apex, label)`` with provenance, stored as Parquet.

Columns, in this order (:data:`POOL_COLUMNS`)::

    source  label  emotion  onset_AU01 … onset_AU45  apex_AU01 … apex_AU45
    au_dataset  au_subject  au_clip  onset_frame  apex_frame

* ``source``: ``expert`` | ``mae`` | ``mie``; ``label``: 0 negative, 1 positive, 2 surprise.
* ``emotion``: the finer emotion (expert sub-emotion, or the clip's emotion word; the class
  name when the clip only gave a class number).
* Provenance columns are strings, ``""`` where they do not apply (expert rows); subjects are
  dataset-qualified (``casme2/sub01``) when the dataset is known.
* Optional last column ``sequence``: per row a list of 17-float lists, the AU vectors from onset
  to apex inclusive (MaE/MiE), or the expert's linear ramp when asked for.

Pools are written with :func:`miex.io.write_parquet` (atomic, no index, no timestamps), so the
same rows give byte-identical files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from miex.au.space import AU_NAMES, LABEL_NAMES, N_AUS
from miex.errors import InputError, MiexError

SOURCES: tuple[str, ...] = ("expert", "mae", "mie")
ONSET_COLUMNS: tuple[str, ...] = tuple(f"onset_{n}" for n in AU_NAMES)
APEX_COLUMNS: tuple[str, ...] = tuple(f"apex_{n}" for n in AU_NAMES)
PROVENANCE_COLUMNS: tuple[str, ...] = ("au_dataset", "au_subject", "au_clip", "onset_frame", "apex_frame")
POOL_COLUMNS: tuple[str, ...] = ("source", "label", "emotion", *ONSET_COLUMNS, *APEX_COLUMNS, *PROVENANCE_COLUMNS)
SEQUENCE_COLUMN = "sequence"
_STRING_COLUMNS = ("source", "emotion", *PROVENANCE_COLUMNS)


def make_pool(
    *,
    source: str,
    labels: Sequence[int] | np.ndarray,
    emotions: Sequence[str],
    onsets: np.ndarray,
    apexes: np.ndarray,
    provenance: dict[str, Sequence[str]] | None = None,
    sequences: Sequence[np.ndarray] | None = None,
) -> pd.DataFrame:
    """Assemble a validated pool DataFrame from arrays (``onsets``/``apexes``: (n, 17))."""
    onsets = np.asarray(onsets, dtype=np.float64).reshape(-1, N_AUS)
    apexes = np.asarray(apexes, dtype=np.float64).reshape(-1, N_AUS)
    n = len(onsets)
    data: dict[str, object] = {
        "source": [source] * n,
        "label": np.asarray(labels, dtype=np.int64),
        "emotion": [str(e) for e in emotions],
    }
    for i, col in enumerate(ONSET_COLUMNS):
        data[col] = onsets[:, i]
    for i, col in enumerate(APEX_COLUMNS):
        data[col] = apexes[:, i]
    provenance = provenance or {}
    for col in PROVENANCE_COLUMNS:
        data[col] = [str(v) for v in provenance.get(col, [""] * n)]
    if sequences is not None:
        data[SEQUENCE_COLUMN] = [np.asarray(s, dtype=np.float64).reshape(-1, N_AUS) for s in sequences]
    return validate_pool(pd.DataFrame(data))


def concat_pools(pools: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Stack pools; a ``sequence`` column is kept only if every part has one."""
    pools = list(pools)
    if not pools:
        raise MiexError("no pools to concatenate")
    if not all(SEQUENCE_COLUMN in p.columns for p in pools):
        pools = [p.drop(columns=SEQUENCE_COLUMN, errors="ignore") for p in pools]
    return validate_pool(pd.concat(pools, ignore_index=True))


def validate_pool(df: pd.DataFrame, *, where: object = "pool") -> pd.DataFrame:
    """Check columns, labels, sources and AU ranges; return the pool with canonical dtypes.

    Raises :class:`InputError` naming ``where`` (a path or a description) on the first problem.
    """
    expected = list(POOL_COLUMNS)
    columns = list(df.columns)
    has_seq = columns[-1:] == [SEQUENCE_COLUMN]
    body = columns[:-1] if has_seq else columns
    if body != expected:
        missing = [c for c in expected if c not in columns]
        extra = [c for c in body if c not in expected]
        detail = []
        if missing:
            detail.append(f"missing {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
        if extra:
            detail.append(f"unexpected {', '.join(extra[:5])}{' …' if len(extra) > 5 else ''}")
        if not detail:
            detail.append("columns out of order")
        raise InputError(where, "not an AU pool: " + "; ".join(detail))

    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for col in columns:
        values = df[col]
        if col in _STRING_COLUMNS:
            if values.isna().any():
                raise InputError(where, f"column {col!r} has missing values")
            out[col] = values.astype(object).map(str).astype(object)
        elif col == "label":
            labels = pd.to_numeric(values, errors="coerce")
            if labels.isna().any() or not labels.isin(list(LABEL_NAMES)).all():
                bad = values[labels.isna() | ~labels.isin(list(LABEL_NAMES))].iloc[0]
                raise InputError(where, f"label {bad!r} is not one of 0, 1, 2")
            out[col] = labels.to_numpy(dtype=np.int64)
        elif col == SEQUENCE_COLUMN:
            out[col] = [_check_sequence(s, i, where) for i, s in enumerate(values)]
        else:
            out[col] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)

    bad_sources = sorted(set(out["source"]) - set(SOURCES))
    if bad_sources:
        raise InputError(where, f"unknown source(s) {', '.join(map(repr, bad_sources))}; expected {', '.join(SOURCES)}")
    aus = out[[*ONSET_COLUMNS, *APEX_COLUMNS]].to_numpy()
    if not np.all(np.isfinite(aus)):
        raise InputError(where, "AU columns contain missing or non-numeric values")
    if aus.size and (aus.min() < 0.0 or aus.max() > 1.0):
        raise InputError(where, f"AU values outside [0, 1] (min {aus.min():.3g}, max {aus.max():.3g})")
    _check_provenance(out, where)
    return out


def _check_provenance(pool: pd.DataFrame, where: object) -> None:
    """Rows drawn from real clips (``mae``, ``mie``) must name a dataset-qualified subject: the
    leakage exclusion of a fold matches ``au_subject`` exactly (:mod:`miex.subjects`)."""
    from miex.subjects import is_qualified

    real = pool[pool["source"] != "expert"]
    bare = sorted({s for s in real["au_subject"] if not is_qualified(s)})
    if bare:
        raise InputError(where, f"au_subject {bare[0]!r} has no dataset ({len(bare)} such subject(s)); "
                                "rebuild the pool with --dataset NAME or a dataset column in the index")


def as_sequence(seq: object) -> np.ndarray:
    """A pool row's ``sequence`` cell as a (T, 17) float64 array: a 2-D array as it is, a list of
    lists, or the object array of 1-D arrays that Parquet reads give. Raises TypeError/ValueError."""
    if isinstance(seq, np.ndarray) and seq.dtype != object:
        return np.asarray(seq, dtype=np.float64)
    if len(seq) == 0:  # type: ignore[arg-type]
        return np.empty((0, N_AUS))
    return np.stack([np.asarray(v, dtype=np.float64) for v in seq])  # type: ignore[union-attr]


def _check_sequence(seq: object, row: int, where: object) -> np.ndarray:
    try:
        arr = as_sequence(seq)
    except (TypeError, ValueError):
        raise InputError(where, f"row {row}: 'sequence' is not a list of AU vectors") from None
    if arr.ndim != 2 or arr.shape[1] != N_AUS or len(arr) == 0:
        raise InputError(where, f"row {row}: 'sequence' must hold >= 1 vectors of {N_AUS} AUs, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or arr.min() < 0.0 or arr.max() > 1.0:
        raise InputError(where, f"row {row}: 'sequence' has values outside [0, 1]")
    return arr


def _sequences_from_arrow(column) -> list[np.ndarray] | None:
    """The ``sequence`` column of a Parquet table (list<list<double>>) as (T, 17) float64 views
    of one flat array, without a Python object per value; None when it has another shape
    (then :func:`validate_pool` checks it row by row and names the bad row)."""
    import pyarrow as pa

    column = column.combine_chunks()
    if column.null_count or not pa.types.is_list(column.type) or not pa.types.is_list(column.type.value_type):
        return None
    inner = column.flatten()
    if inner.null_count or not pa.types.is_floating(inner.type.value_type):
        return None
    lengths = np.diff(np.asarray(inner.offsets))
    if lengths.size and (lengths != N_AUS).any():
        return None
    values = np.asarray(inner.flatten().cast(pa.float64()), dtype=np.float64).reshape(-1, N_AUS)
    starts = np.asarray(column.offsets)
    return [values[a:b] for a, b in zip(starts[:-1], starts[1:])]


def write_pool(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Validate and write a pool atomically; the same rows give a byte-identical file."""
    from miex.io import write_parquet

    pool = validate_pool(df, where=path)
    if SEQUENCE_COLUMN in pool:
        pool = pool.assign(**{SEQUENCE_COLUMN: [list(seq) for seq in pool[SEQUENCE_COLUMN]]})
    write_parquet(path, pool)
    return Path(path)


def read_pool(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate a pool file; raise :class:`InputError` naming the file on any problem."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "pool file not found")
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        sequences = _sequences_from_arrow(table.column(SEQUENCE_COLUMN)) if SEQUENCE_COLUMN in table.column_names else None
        if sequences is not None:
            table = table.drop_columns([SEQUENCE_COLUMN])
        df = table.to_pandas()
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise InputError(path, f"not a readable Parquet pool ({type(exc).__name__}: {exc})") from None
    if sequences is not None:
        df[SEQUENCE_COLUMN] = sequences
    return validate_pool(df, where=path)


def apex_matrix(df: pd.DataFrame) -> np.ndarray:
    """(n, 17) apex AU vectors of a pool."""
    return df[list(APEX_COLUMNS)].to_numpy(dtype=np.float64)


def onset_matrix(df: pd.DataFrame) -> np.ndarray:
    """(n, 17) onset AU vectors of a pool."""
    return df[list(ONSET_COLUMNS)].to_numpy(dtype=np.float64)


def summarize_pool(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (source, label) present: ``source, label, class, n``, the number of distinct
    clips, the mean count of active apex AUs, then the mean apex intensity of each AU
    (columns ``AU01 … AU45``). Sources in :data:`SOURCES` order, then labels ascending."""
    rows = []
    apex = apex_matrix(df)
    present = [s for s in SOURCES if (df["source"] == s).any()]
    for source in present:
        for label in sorted(LABEL_NAMES):
            mask = ((df["source"] == source) & (df["label"] == label)).to_numpy()
            if not mask.any():
                continue
            sub = apex[mask]
            clips = df.loc[mask, ["au_dataset", "au_clip"]]
            clips = clips[clips["au_clip"] != ""]
            n_clips = len(clips.drop_duplicates())
            row = {
                "source": source,
                "label": label,
                "class": LABEL_NAMES[label],
                "n": int(mask.sum()),
                "clips": n_clips,
                "active_aus": float((sub > 0).sum(axis=1).mean()),
            }
            row.update({name: float(v) for name, v in zip(AU_NAMES, sub.mean(axis=0))})
            rows.append(row)
    columns = ["source", "label", "class", "n", "clips", "active_aus", *AU_NAMES]
    return pd.DataFrame(rows, columns=columns)
