"""The sample plan: which face, class, source and AU pair every sample gets.

Sample ``k`` is identity ``k // (3 * S)``, class ``(k // S) % 3`` and source ``k % S`` for
``S`` sources, exactly the MiE-X recipe (ids x 3 classes x sources). Everything random about
sample ``k`` (expert AU draws, clip durations) comes from ``rng(seed, <purpose>, k)``, so the
plan does not depend on worker count or order. Pool-based sources take the pool rows of the
class in pool order, cycling; pools made with a reuse factor therefore give each real AU pair to
that many consecutive identities, as the MiE-X code does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from miex.au.pool import APEX_COLUMNS, ONSET_COLUMNS, PROVENANCE_COLUMNS, SEQUENCE_COLUMN, as_sequence
from miex.au.space import LABEL_NAMES, N_AUS
from miex.errors import MiexError
from miex.seeding import rng
from miex.synth.config import SynthConfig
from miex.synth.identities import Identity
from miex.synth.sequence import sample_trajectory

MANIFEST_COLUMNS = [
    "sample_id", "dir", "face_id", "face_path", "source", "label", "emotion",
    *ONSET_COLUMNS, *APEX_COLUMNS, *PROVENANCE_COLUMNS,
    "generator", "seed", "face_reuse", "n_frames", "apex_index", "weights_sha256",
]

#: ``draw(label, generator) -> (emotion, apex vector)`` for the expert source.
ExpertDraw = Callable[[int, np.random.Generator], tuple[str, np.ndarray]]


def sample_dir(face_id: str, source: str, label: int) -> str:
    """The released MiE-X folder name ``<faceid>_<source>_<label>``."""
    return f"{face_id}_{source}_{label}"


@dataclass
class ClassRows:
    """The pool rows of one class, as arrays, for fast cycling."""

    onset: np.ndarray
    apex: np.ndarray
    emotion: list[str]
    provenance: dict[str, list[str]]
    sequence: list[np.ndarray | None]

    @classmethod
    def from_pool(cls, rows: pd.DataFrame) -> "ClassRows":
        sequences = rows[SEQUENCE_COLUMN].tolist() if SEQUENCE_COLUMN in rows else [None] * len(rows)
        return cls(
            onset=rows[list(ONSET_COLUMNS)].to_numpy(np.float64),
            apex=rows[list(APEX_COLUMNS)].to_numpy(np.float64),
            emotion=rows["emotion"].astype(str).tolist(),
            provenance={c: rows[c].fillna("").astype(str).tolist() for c in PROVENANCE_COLUMNS},
            sequence=[None if s is None else as_sequence(s) for s in sequences],
        )


def pool_rows_by_class(pool: pd.DataFrame, source: str, path: str | None) -> dict[int, ClassRows]:
    parts = {label: pool[pool["label"] == label] for label in LABEL_NAMES}
    empty = [LABEL_NAMES[label] for label, part in parts.items() if part.empty]
    if empty:
        raise MiexError(f"{path}: the {source} pool has no sample of class {', '.join(empty)}")
    return {label: ClassRows.from_pool(part) for label, part in parts.items()}


def build_plan(
    config: SynthConfig,
    identities: Sequence[Identity],
    pools: dict[str, pd.DataFrame],
    expert_draw: ExpertDraw,
) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """The manifest (one row per sample, in sample order) and each sample's AU trajectory."""
    by_class = {
        source: pool_rows_by_class(pools[source], source, getattr(config, f"{source}_pool"))
        for source in config.sources
        if source != "expert"
    }
    n = len(identities) * 3 * len(config.sources)
    onset = np.zeros((n, N_AUS))
    apex = np.zeros((n, N_AUS))
    columns: dict[str, list] = {c: [] for c in ("dir", "face_id", "face_path", "source", "label", "emotion",
                                                "face_reuse", *PROVENANCE_COLUMNS)}
    trajectories: list[np.ndarray] = []
    apex_index = np.zeros(n, dtype=np.int64)
    k = 0
    for identity in identities:
        for label in LABEL_NAMES:
            for source in config.sources:
                if source == "expert":
                    emotion, apex[k] = expert_draw(label, rng(config.seed, "expert", k))
                    provenance = {c: "" for c in PROVENANCE_COLUMNS}
                    real = None
                else:
                    rows = by_class[source][label]
                    i = identity.index % len(rows.emotion)
                    onset[k], apex[k], emotion, real = rows.onset[i], rows.apex[i], rows.emotion[i], rows.sequence[i]
                    provenance = {c: rows.provenance[c][i] for c in PROVENANCE_COLUMNS}
                trajectory, apex_index[k] = trajectory_of(config, k, onset[k], apex[k], real)
                trajectories.append(trajectory)
                for column, value in (("dir", sample_dir(identity.face_id, source, label)),
                                      ("face_id", identity.face_id), ("face_path", identity.face_path),
                                      ("source", source), ("label", label), ("emotion", emotion),
                                      ("face_reuse", identity.reuse), *provenance.items()):
                    columns[column].append(value)
                k += 1
    manifest = pd.DataFrame({
        "sample_id": np.arange(n, dtype=np.int64),
        **{c: columns[c] for c in ("dir", "face_id", "face_path", "source")},
        "label": np.asarray(columns["label"], dtype=np.int64),
        "emotion": columns["emotion"],
        **dict(zip(ONSET_COLUMNS, onset.T)),
        **dict(zip(APEX_COLUMNS, apex.T)),
        **{c: columns[c] for c in PROVENANCE_COLUMNS},
        "generator": config.generator,
        "seed": np.full(n, config.seed, dtype=np.int64),
        "face_reuse": np.asarray(columns["face_reuse"], dtype=np.int64),
        "n_frames": np.array([len(t) for t in trajectories], dtype=np.int64),
        "apex_index": apex_index,
        "weights_sha256": config.weights_sha256,
    })
    return manifest[MANIFEST_COLUMNS], trajectories


def trajectory_of(
    config: SynthConfig, k: int, onset: np.ndarray, apex: np.ndarray, real: np.ndarray | None
) -> tuple[np.ndarray, int]:
    """The (T, 17) float32 AU trajectory of sample ``k`` and its apex frame index."""
    if config.frames == "2":
        return np.array((onset, apex), dtype=np.float32), 1
    trajectory, apex_at = sample_trajectory(
        onset, apex, real, config.frames, rng(config.seed, "trajectory", k), fps=config.fps, duration=config.duration
    )
    return trajectory.astype(np.float32), apex_at
