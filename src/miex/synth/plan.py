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
    cells = [(identity, label, source) for identity in identities for label in LABEL_NAMES for source in config.sources]
    n = len(cells)
    onset = np.zeros((n, N_AUS))
    apex = np.zeros((n, N_AUS))
    emotion = [""] * n
    provenance = {c: [""] * n for c in PROVENANCE_COLUMNS}
    real: list[np.ndarray | None] = [None] * n
    for k, (identity, label, source) in enumerate(cells):
        if source == "expert":
            emotion[k], apex[k] = expert_draw(label, rng(config.seed, "expert", k))
            continue
        rows = by_class[source][label]
        i = identity.index % len(rows.emotion)
        onset[k], apex[k], emotion[k], real[k] = rows.onset[i], rows.apex[i], rows.emotion[i], rows.sequence[i]
        for c in PROVENANCE_COLUMNS:
            provenance[c][k] = rows.provenance[c][i]
    trajectories, apex_index = trajectories_of(config, onset, apex, real)
    manifest = pd.DataFrame({
        "sample_id": np.arange(n, dtype=np.int64),
        "dir": [sample_dir(identity.face_id, source, label) for identity, label, source in cells],
        "face_id": [identity.face_id for identity, _, _ in cells],
        "face_path": [identity.face_path for identity, _, _ in cells],
        "source": [source for _, _, source in cells],
        "label": np.array([label for _, label, _ in cells], dtype=np.int64),
        "emotion": emotion,
        **dict(zip(ONSET_COLUMNS, onset.T)),
        **dict(zip(APEX_COLUMNS, apex.T)),
        **provenance,
        "generator": config.generator,
        "seed": np.full(n, config.seed, dtype=np.int64),
        "face_reuse": np.array([identity.reuse for identity, _, _ in cells], dtype=np.int64),
        "n_frames": np.array([len(t) for t in trajectories], dtype=np.int64),
        "apex_index": apex_index,
        "weights_sha256": config.weights_sha256,
    })
    return manifest[MANIFEST_COLUMNS], trajectories


def trajectories_of(
    config: SynthConfig, onset: np.ndarray, apex: np.ndarray, real: Sequence[np.ndarray | None]
) -> tuple[list[np.ndarray], np.ndarray]:
    """Every sample's (T, 17) float32 AU trajectory and its apex frame index. Two frames are
    the pool's (or the expert's) onset and apex; longer ones follow the real sequence where
    there is one, with sample ``k``'s random draws from ``rng(seed, "trajectory", k)``."""
    if config.frames == "2":  # one array, a row per sample
        return list(np.stack([onset, apex], axis=1).astype(np.float32)), np.ones(len(onset), dtype=np.int64)
    trajectories, apex_index = [], np.empty(len(onset), dtype=np.int64)
    for k in range(len(onset)):
        trajectory, apex_index[k] = sample_trajectory(
            onset[k], apex[k], real[k], config.frames, rng(config.seed, "trajectory", k),
            fps=config.fps, duration=config.duration,
        )
        trajectories.append(trajectory.astype(np.float32))
    return trajectories, apex_index
