"""The three MiE-X AU sources: expert rules, early macro-expression frames, real micro-expressions.

Every source draws from an explicit :class:`numpy.random.Generator` passed in by the caller
(``miex.seeding.rng(seed, …)``), and returns an AU pool DataFrame (see :mod:`miex.au.pool`),
``per_class`` rows for each class, class 0 first, then 1, then 2.

Expert (``ExpertSource``)
    An AU of the chosen emotion's rule is activated with its probability ``p``; an activated
    AU gets an intensity drawn from U[mu, nu] (defaults 0.1, 0.3), the others stay 0. The onset
    is all zeros and AU45 (blink) is never activated. Class 1 is Happiness, class 2 Surprise;
    class 0 draws its sub-emotion uniformly from the table's negative emotions, recorded in
    the ``emotion`` column.

    * ``table="miex"`` (default): the rule table of the released MiE-X code
      (:data:`MIEX_TABLE`). Its Fear rule has no certain AU, so a Fear apex may be all zero,
      exactly as in MiE-X. Negative emotions: sadness, fear, anger, disgust, contempt.
    * ``table="du2014"``: Du, Tao & Martinez, PNAS 2014, Table 1 (:data:`DU2014_TABLE`).
      Prototypical AUs (used by > 70 % of subjects) get p = 1; bracketed variants get their
      percentage (e.g. AU06 in Happy: p = 0.51). AU11 and AU24 lie outside the 17-AU space and
      are dropped. Negative emotions: sadness, fear, anger, disgust (Du's basic six have no
      contempt).

    Multi-frame: ``expert_sequence(apex, n)``: frame i = apex · i / (n - 1) (default n = 10).

Macro-expression early frames (``MaESource``)
    Each sample picks a clip of the class uniformly at random. Onset = the first row of its AU
    table; apex = a row index drawn uniformly from [floor(alpha·n), floor(beta·n)] (defaults
    alpha 0.3, beta 0.5; the released MiE-X code uses 0.25), both bounds clamped to [0, n - 1],
    so a 1-frame clip gives apex 0 (= onset) and a 2-frame clip gives 0 or 1. A clip's
    ``onset``/``offset`` frame numbers, when given, first trim its table to that range; its
    ``apex`` is ignored. The ``sequence`` column holds the rows from onset to apex inclusive.

Real micro-expressions (``MiESource``)
    Onset and apex are the annotated frame numbers (values of the table's ``frame`` column;
    onset defaults to the first row). A clip without an apex (SMIC) uses the row nearest to
    the middle frame between onset and offset (offset defaults to the last row). An annotated
    frame missing from the table (dropped by OpenFace) makes the clip unusable. Pairs of a
    class are shuffled, and each is used for ``reuse`` consecutive samples (default 5, as in
    the MiE-X code) before the next; after the last pair a fresh shuffle starts.

Subjects are dataset-qualified (``casme2/sub01``, :mod:`miex.subjects`): a clip without a
dataset is refused, since its AUs could not be traced back to a test subject later.
``exclude_subjects`` (MaE and MiE) removes every clip of the listed (qualified) subjects before
anything is drawn. If a class is left without clips, a :class:`MiexError` says so.

Labels: 0 negative, 1 positive, 2 surprise (:data:`miex.au.space.LABEL_NAMES`). Clips may give
ints or emotion words (:func:`parse_label`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from miex.au.pool import APEX_COLUMNS, ONSET_COLUMNS, SEQUENCE_COLUMN, as_sequence, make_pool
from miex.au.space import AU_NAMES, LABEL_NAMES, N_AUS, au_index
from miex.errors import InputError, MiexError, SkipLog
from miex.subjects import qualify, require_qualified, split_subject

# --------------------------------------------------------------------------------------------
# Labels

#: Emotion words (lower case) -> 3-class label.
EMOTION_LABELS: dict[str, int] = {
    **dict.fromkeys(
        ["negative", "ne", "anger", "angry", "contempt", "disgust", "disgusted", "fear", "fearful",
         "sadness", "sad", "repression"],
        0,
    ),
    **dict.fromkeys(["positive", "po", "happiness", "happy"], 1),
    **dict.fromkeys(["surprise", "surprised", "sur"], 2),
}


def parse_label(value: object, *, clip: str = "") -> tuple[int, str]:
    """``(label, emotion)`` from an int label (0/1/2) or an emotion word.

    The emotion is the lower-cased word, or the class name for a numeric label. Unknown values
    raise :class:`MiexError` naming ``clip``.
    """
    text = str(value).strip()
    where = f"clip {clip!r}: " if clip else ""
    try:
        number = float(text)
    except ValueError:
        word = text.lower()
        if word in EMOTION_LABELS:
            return EMOTION_LABELS[word], word
        known = ", ".join(sorted(EMOTION_LABELS))
        raise MiexError(f"{where}unknown label {text!r}; use 0/1/2 or one of: {known}") from None
    if number.is_integer() and int(number) in LABEL_NAMES:
        return int(number), LABEL_NAMES[int(number)]
    raise MiexError(f"{where}label {text!r} is not one of 0 (negative), 1 (positive), 2 (surprise)")


def qualified_subject(dataset: str, subject: str) -> str:
    """``casme2/sub01`` from ``("casme2", "sub01")`` (see :func:`miex.subjects.qualify`)."""
    return qualify(dataset, subject)


# --------------------------------------------------------------------------------------------
# Expert


#: Activation probabilities of the released MiE-X code (AU number -> p).
MIEX_TABLE: dict[str, dict[int, float]] = {
    "happiness": {12: 1.0, 25: 0.5, 6: 0.5},
    "sadness": {4: 1.0, 1: 0.5, 15: 0.5},
    "surprise": {1: 1.0, 2: 1.0, 5: 0.5, 25: 0.5, 26: 0.5},
    "fear": {5: 0.5, 20: 0.5, 25: 0.5, 26: 0.5},
    "anger": {4: 1.0, 7: 0.5, 23: 0.5},
    "disgust": {9: 1.0, 10: 0.5, 17: 1.0},
    "contempt": {14: 1.0},
}

#: Du, Tao & Martinez 2014, Table 1, restricted to the 17-AU space (AU11, AU24 dropped).
DU2014_TABLE: dict[str, dict[int, float]] = {
    "happiness": {12: 1.0, 25: 1.0, 6: 0.51},
    "sadness": {4: 1.0, 15: 1.0, 1: 0.60, 6: 0.50, 17: 0.67},  # AU11 (26 %) dropped
    "fear": {1: 1.0, 4: 1.0, 20: 1.0, 25: 1.0, 2: 0.57, 5: 0.63, 26: 0.33},
    "anger": {4: 1.0, 7: 1.0, 10: 0.26, 17: 0.52, 23: 0.29},  # prototypical AU24 dropped
    "surprise": {1: 1.0, 2: 1.0, 25: 1.0, 26: 1.0, 5: 0.66},
    "disgust": {9: 1.0, 10: 1.0, 17: 1.0, 4: 0.31},  # AU24 (26 %) dropped
}

#: Per table: emotions drawn for each class (class 0 draws uniformly among its list).
CLASS_EMOTIONS: dict[str, dict[int, tuple[str, ...]]] = {
    "miex": {0: ("sadness", "fear", "anger", "disgust", "contempt"), 1: ("happiness",), 2: ("surprise",)},
    "du2014": {0: ("sadness", "fear", "anger", "disgust"), 1: ("happiness",), 2: ("surprise",)},
}
EXPERT_TABLES: dict[str, dict[str, dict[int, float]]] = {"miex": MIEX_TABLE, "du2014": DU2014_TABLE}


def expert_probabilities(table: str = "miex") -> dict[str, np.ndarray]:
    """Emotion -> (17,) activation probabilities in AU order (AU45 always 0)."""
    rules = _expert_table(table)
    out = {}
    for emotion, rule in rules.items():
        p = np.zeros(N_AUS)
        for au, prob in rule.items():
            p[au_index(au)] = prob
        p[au_index(45)] = 0.0
        out[emotion] = p
    return out


def _expert_table(table: str) -> dict[str, dict[int, float]]:
    try:
        return EXPERT_TABLES[table]
    except KeyError:
        raise MiexError(f"unknown expert table {table!r}; expected one of {', '.join(EXPERT_TABLES)}") from None


def expert_sequence(apex: np.ndarray, n_frames: int = 10, onset: np.ndarray | None = None) -> np.ndarray:
    """Linear ramp onset -> apex over ``n_frames`` (frame i = onset + (apex - onset)·i/(n-1))."""
    apex = np.asarray(apex, dtype=np.float64)
    onset = np.zeros_like(apex) if onset is None else np.asarray(onset, dtype=np.float64)
    return expand_sequence(np.stack([onset, apex]), n_frames)


@dataclass
class ExpertSource:
    """Rule-based AU triplets (see the module docstring)."""

    table: str = "miex"
    mu: float = 0.1
    nu: float = 0.3

    def __post_init__(self) -> None:
        self._probs = expert_probabilities(self.table)
        if not (0.0 <= self.mu <= self.nu <= 1.0):
            raise MiexError(f"expert intensities need 0 <= mu <= nu <= 1, got mu={self.mu}, nu={self.nu}")

    def draw(self, label: int, n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
        """``n`` apex vectors of one class and their sub-emotions (onsets are all zeros)."""
        if label not in LABEL_NAMES:
            raise MiexError(f"label {label!r} is not one of 0, 1, 2")
        emotions = CLASS_EMOTIONS[self.table][int(label)]
        choice = rng.integers(len(emotions), size=n)
        prob = np.stack([self._probs[emotions[k]] for k in choice]) if n else np.zeros((0, N_AUS))
        active = rng.random((n, N_AUS)) < prob
        intensity = rng.uniform(self.mu, self.nu, size=(n, N_AUS))
        return [emotions[k] for k in choice], np.where(active, intensity, 0.0)

    def draw_one(self, label: int, rng: np.random.Generator) -> tuple[str, np.ndarray]:
        """One (sub-emotion, apex vector) of class ``label``: what ``miex synth`` draws per sample."""
        emotions, apexes = self.draw(label, 1, rng)
        return emotions[0], apexes[0]

    def sample(
        self,
        per_class: int,
        rng: np.random.Generator,
        *,
        labels: Iterable[int] = (0, 1, 2),
        n_frames: int | None = None,
    ) -> pd.DataFrame:
        """``per_class`` triplets per label; with ``n_frames``, add the linear-ramp ``sequence``."""
        _check_count(per_class)
        parts_l, parts_e, parts_a = [], [], []
        for label in labels:
            emotions, apexes = self.draw(int(label), per_class, rng)
            parts_a.append(apexes)
            parts_l.append(np.full(per_class, int(label)))
            parts_e.extend(emotions)
        apexes = np.concatenate(parts_a)
        sequences = None
        if n_frames:
            if int(n_frames) < 2:
                raise MiexError(f"n_frames must be >= 2, got {n_frames}")
            steps = np.arange(int(n_frames)) / (int(n_frames) - 1)  # frame i = apex * i / (N - 1)
            sequences = list(apexes[:, None, :] * steps[None, :, None])
        return make_pool(
            source="expert",
            labels=np.concatenate(parts_l),
            emotions=parts_e,
            onsets=np.zeros_like(apexes),
            apexes=apexes,
            sequences=sequences,
        )


# --------------------------------------------------------------------------------------------
# Clips (MaE and MiE inputs)


@dataclass(eq=False)
class Clip:
    """A labelled clip with its per-frame AU table (``frame``, ``AU01 … AU45``).

    ``label`` may be 0/1/2 or an emotion word; it is normalised to an int and ``emotion`` is
    filled from it when empty. ``onset``/``apex``/``offset`` are values of the ``frame`` column.
    """

    clip: str
    subject: str
    label: int | str
    aus: pd.DataFrame = field(repr=False)
    dataset: str = ""
    emotion: str = ""
    onset: int | None = None
    apex: int | None = None
    offset: int | None = None
    _frames: np.ndarray = field(init=False, repr=False)
    _z: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        label, emotion = parse_label(self.label, clip=self.clip)
        self.label = label
        self.emotion = str(self.emotion).strip().lower() or emotion
        missing = [c for c in ("frame", *AU_NAMES) if c not in self.aus.columns]
        if missing:
            raise InputError(self.name, f"AU table lacks column(s) {', '.join(missing)}")
        self._frames = self.aus["frame"].to_numpy(dtype=np.int64)
        self._z = self.aus[list(AU_NAMES)].to_numpy(dtype=np.float64)

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.clip}" if self.dataset else self.clip

    @property
    def qualified_subject(self) -> str:
        return qualify(self.dataset, self.subject, where=self.name)


@dataclass
class _Pair:
    clip: Clip
    frames: np.ndarray  # frame numbers onset..apex (or the whole usable range for MaE)
    z: np.ndarray  # (T, 17)


class _ClipSource:
    source = ""

    def __init__(self, clips: Sequence[Clip], *, exclude_subjects: Iterable[str] = (), skips: SkipLog | None = None):
        self.exclude_subjects = {require_qualified(s, where="exclude_subjects")
                                 for s in exclude_subjects if str(s).strip()}
        self.excluded: list[Clip] = []
        self.by_class: dict[int, list[_Pair]] = {label: [] for label in LABEL_NAMES}
        for clip in clips:
            if clip.qualified_subject in self.exclude_subjects:
                self.excluded.append(clip)
                continue
            try:
                pair = self._prepare(clip)
            except InputError as exc:
                if skips is None:
                    raise
                skips.add(exc.path, exc.reason)
                continue
            self.by_class[int(clip.label)].append(pair)

    def _prepare(self, clip: Clip) -> _Pair:  # pragma: no cover - abstract
        raise NotImplementedError

    def _pairs(self, label: int) -> list[_Pair]:
        pairs = self.by_class[label]
        if not pairs:
            note = ""
            if self.excluded:
                note = f" after excluding {len(self.excluded)} clip(s) of subjects {', '.join(sorted(self.exclude_subjects))}"
            raise MiexError(f"{self.source}: no usable clips of class {label} ({LABEL_NAMES[label]}){note}")
        return pairs

    def _emit(self, rows: list[tuple[_Pair, int, int]], labels: list[int]) -> pd.DataFrame:
        """rows: (pair, onset row, apex row)."""
        onsets = np.array([p.z[o] for p, o, _ in rows]).reshape(-1, N_AUS)
        apexes = np.array([p.z[a] for p, _, a in rows]).reshape(-1, N_AUS)
        prov = {
            "au_dataset": [p.clip.dataset for p, _, _ in rows],
            "au_subject": [p.clip.qualified_subject for p, _, _ in rows],
            "au_clip": [p.clip.clip for p, _, _ in rows],
            "onset_frame": [str(p.frames[o]) for p, o, _ in rows],
            "apex_frame": [str(p.frames[a]) for p, _, a in rows],
        }
        return make_pool(
            source=self.source,
            labels=labels,
            emotions=[p.clip.emotion for p, _, _ in rows],
            onsets=onsets,
            apexes=apexes,
            provenance=prov,
            sequences=[p.z[o : a + 1] for p, o, a in rows],
        )


def apex_bounds(n: int, alpha: float = 0.3, beta: float = 0.5) -> tuple[int, int]:
    """Inclusive row range [floor(alpha·n), floor(beta·n)] clamped to [0, n - 1]."""
    if n < 1:
        raise MiexError("a clip needs at least one frame")
    lo = min(max(int(np.floor(alpha * n)), 0), n - 1)
    hi = min(max(int(np.floor(beta * n)), 0), n - 1)
    return lo, max(lo, hi)


def draw_apex_index(n: int, rng: np.random.Generator, alpha: float = 0.3, beta: float = 0.5) -> int:
    """A uniformly random apex row index for an ``n``-frame MaE clip (see :func:`apex_bounds`)."""
    lo, hi = apex_bounds(n, alpha, beta)
    return int(rng.integers(lo, hi + 1))


class MaESource(_ClipSource):
    """Early frames of labelled macro-expression clips (see the module docstring)."""

    source = "mae"

    def __init__(
        self,
        clips: Sequence[Clip],
        *,
        alpha: float = 0.3,
        beta: float = 0.5,
        exclude_subjects: Iterable[str] = (),
        skips: SkipLog | None = None,
    ):
        if not (0.0 <= alpha <= beta <= 1.0):
            raise MiexError(f"MaE apex window needs 0 <= alpha <= beta <= 1, got alpha={alpha}, beta={beta}")
        self.alpha, self.beta = float(alpha), float(beta)
        super().__init__(clips, exclude_subjects=exclude_subjects, skips=skips)

    def _prepare(self, clip: Clip) -> _Pair:
        keep = np.ones(len(clip._frames), dtype=bool)
        if clip.onset is not None:
            keep &= clip._frames >= clip.onset
        if clip.offset is not None:
            keep &= clip._frames <= clip.offset
        if not keep.any():
            raise InputError(clip.name, "no AU frames: none left between onset and offset (or all dropped by the reader)")
        return _Pair(clip, clip._frames[keep], clip._z[keep])

    def sample(self, per_class: int, rng: np.random.Generator, *, labels: Iterable[int] = (0, 1, 2)) -> pd.DataFrame:
        _check_count(per_class)
        rows, out_labels = [], []
        for label in labels:
            pairs = self._pairs(int(label))
            for k in rng.integers(len(pairs), size=per_class):
                pair = pairs[int(k)]
                rows.append((pair, 0, draw_apex_index(len(pair.frames), rng, self.alpha, self.beta)))
                out_labels.append(int(label))
        return self._emit(rows, out_labels)


class MiESource(_ClipSource):
    """Annotated onset/apex pairs of real micro-expressions (see the module docstring)."""

    source = "mie"

    def __init__(
        self,
        clips: Sequence[Clip],
        *,
        reuse: int = 5,
        exclude_subjects: Iterable[str] = (),
        skips: SkipLog | None = None,
    ):
        if int(reuse) < 1:
            raise MiexError(f"reuse must be >= 1, got {reuse}")
        self.reuse = int(reuse)
        super().__init__(clips, exclude_subjects=exclude_subjects, skips=skips)

    def _prepare(self, clip: Clip) -> _Pair:
        frames = clip._frames
        if len(frames) == 0:
            raise InputError(clip.name, "no AU frames: all rows dropped by the OpenFace reader")
        onset = frames[0] if clip.onset is None else int(clip.onset)
        if onset not in frames:
            raise InputError(clip.name, f"onset frame not in the AU table: {onset} (table has frames {frames[0]}-{frames[-1]})")
        i_on = int(np.flatnonzero(frames == onset)[0])
        if clip.apex is None:
            offset = frames[-1] if clip.offset is None else int(clip.offset)
            if offset < onset:
                raise InputError(clip.name, f"offset before onset: offset {offset}, onset {onset}")
            middle = (onset + offset) / 2.0
            after = np.flatnonzero(frames >= onset)
            i_ap = int(after[np.argmin(np.abs(frames[after] - middle))])
        else:
            apex = int(clip.apex)
            if apex < onset:
                raise InputError(clip.name, f"apex before onset: apex {apex}, onset {onset}")
            if apex not in frames:
                raise InputError(clip.name, f"apex frame not in the AU table: {apex} (table has frames {frames[0]}-{frames[-1]})")
            i_ap = int(np.flatnonzero(frames == apex)[0])
        return _Pair(clip, frames[i_on : i_ap + 1], clip._z[i_on : i_ap + 1])

    def sample(self, per_class: int, rng: np.random.Generator, *, labels: Iterable[int] = (0, 1, 2)) -> pd.DataFrame:
        _check_count(per_class)
        rows, out_labels = [], []
        for label in labels:
            pairs = self._pairs(int(label))
            order: list[int] = []
            n_blocks = -(-per_class // self.reuse)
            while len(order) < n_blocks:
                order.extend(int(i) for i in rng.permutation(len(pairs)))
            for k in range(per_class):
                pair = pairs[order[k // self.reuse]]
                rows.append((pair, 0, len(pair.frames) - 1))
                out_labels.append(int(label))
        return self._emit(rows, out_labels)


# --------------------------------------------------------------------------------------------
# Clip index (CSV folder + index file)

#: Columns of a clip index file; the first three are required.
INDEX_COLUMNS: tuple[str, ...] = ("clip", "subject", "label", "dataset", "onset", "apex", "offset", "csv")


def clips_from_index(
    index: str | os.PathLike[str],
    csv_dir: str | os.PathLike[str],
    *,
    dataset: str = "",
    min_confidence: float | None = None,
    skips: SkipLog | None = None,
) -> list[Clip]:
    """Read a clip index CSV and the OpenFace CSVs it names.

    Index columns: ``clip, subject, label`` (required) and optionally ``dataset, onset, apex,
    offset, csv``. ``label`` is 0/1/2 or an emotion word; ``onset``/``apex``/``offset`` are
    frame numbers as in the OpenFace ``frame`` column (empty = not given); ``csv`` is the file
    name relative to ``csv_dir`` (default ``<clip>.csv``); ``dataset`` (default: the
    ``dataset`` argument) qualifies the subject. A bad row raises :class:`InputError` naming the
    row, or is logged to ``skips`` and left out.
    """
    from miex.au.openface import DEFAULT_MIN_CONFIDENCE, read_openface_csv

    index = Path(index)
    csv_dir = Path(csv_dir)
    if not index.is_file():
        raise InputError(index, "index file not found")
    if not csv_dir.is_dir():
        raise MiexError(f"{csv_dir}: CSV folder not found")
    try:
        table = pd.read_csv(index, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise InputError(index, "empty index file") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(index, f"malformed index CSV: {str(exc).strip()}") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in INDEX_COLUMNS[:3] if c not in table.columns]
    if missing:
        raise InputError(index, f"index lacks column(s) {', '.join(missing)} (needs clip, subject, label)")
    unknown = [c for c in table.columns if c not in INDEX_COLUMNS]
    if unknown:
        raise InputError(index, f"unknown index column(s) {', '.join(unknown)}; known: {', '.join(INDEX_COLUMNS)}")

    threshold = DEFAULT_MIN_CONFIDENCE if min_confidence is None else float(min_confidence)
    clips: list[Clip] = []
    seen: set[str] = set()
    for i, rec in enumerate(table.to_dict("records")):
        rec = {k: str(v).strip() for k, v in rec.items()}
        where = f"{index} line {i + 2}" + (f" (clip {rec['clip']})" if rec["clip"] else "")
        try:
            if not rec["clip"]:
                raise InputError(where, "empty clip name")
            if not rec["subject"]:
                raise InputError(where, "empty subject")
            # a subject without a dataset is refused (not skipped): its AUs could not be traced
            ds, local = split_subject(qualify(rec.get("dataset", "") or dataset, rec["subject"], where=where))
            key = f"{ds}/{local}/{rec['clip']}"  # CASME II reuses clip names across subjects
            if key in seen:
                raise InputError(where, "duplicate clip")
            frames = {k: _frame_number(rec.get(k, ""), k, where) for k in ("onset", "apex", "offset")}
            try:
                label, emotion = parse_label(rec["label"])
            except MiexError:
                raise InputError(where, f"unknown label: {rec['label']!r} (use 0/1/2 or an emotion word)") from None
            csv_path = csv_dir / (rec.get("csv", "") or f"{rec['clip']}.csv")
            try:
                aus = read_openface_csv(csv_path, min_confidence=threshold)
            except InputError as exc:
                raise InputError(where, f"unusable OpenFace CSV: {exc.path}: {exc.reason}") from None
            clips.append(
                Clip(clip=rec["clip"], subject=local, label=label, emotion=emotion, aus=aus,
                     dataset=ds, **frames)
            )
            seen.add(key)
        except InputError as exc:
            if skips is None:
                raise
            skips.add(exc.path, exc.reason)
    return clips


def _frame_number(text: str, what: str, where: str) -> int | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or not value.is_integer():
        raise InputError(where, f"bad frame number: {what} {text!r}")
    return int(value)


# --------------------------------------------------------------------------------------------
# Sequences


def expand_sequence(row: Mapping[str, object] | pd.Series | np.ndarray | Sequence, n_frames: int) -> np.ndarray:
    """Resample an AU sequence to ``n_frames`` vectors by linear interpolation along time.

    ``row`` is a pool row (its ``sequence`` if present, else the 2-frame onset -> apex ramp, which
    reproduces the expert video rule frame i = apex·i/(n-1)) or an array of shape (T, 17).
    The first and last frames are kept exactly; a 1-frame sequence is repeated.
    """
    if int(n_frames) < 2:
        raise MiexError(f"n_frames must be >= 2, got {n_frames}")
    seq = _sequence_of(row)
    t = len(seq)
    if t == 1:
        return np.repeat(seq, n_frames, axis=0)
    src = np.linspace(0.0, 1.0, t)
    dst = np.linspace(0.0, 1.0, int(n_frames))
    out = np.column_stack([np.interp(dst, src, seq[:, j]) for j in range(N_AUS)])
    out[0], out[-1] = seq[0], seq[-1]
    return out


def _sequence_of(row: object) -> np.ndarray:
    if isinstance(row, (pd.Series, Mapping)):
        seq = row.get(SEQUENCE_COLUMN) if SEQUENCE_COLUMN in row else None  # type: ignore[operator]
        if seq is not None and not (isinstance(seq, float) and np.isnan(seq)):
            arr = as_sequence(seq)
        else:
            onset = np.array([row[c] for c in ONSET_COLUMNS], dtype=np.float64)  # type: ignore[index]
            apex = np.array([row[c] for c in APEX_COLUMNS], dtype=np.float64)  # type: ignore[index]
            arr = np.stack([onset, apex])
    else:
        arr = np.asarray(row, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != N_AUS or len(arr) == 0:
        raise MiexError(f"an AU sequence must have shape (T >= 1, {N_AUS}), got {arr.shape}")
    return arr


def _check_count(per_class: int) -> None:
    if int(per_class) < 0:
        raise MiexError(f"per-class count must be >= 0, got {per_class}")


__all__ = [
    "CLASS_EMOTIONS",
    "Clip",
    "DU2014_TABLE",
    "EMOTION_LABELS",
    "ExpertSource",
    "MIEX_TABLE",
    "MaESource",
    "MiESource",
    "apex_bounds",
    "draw_apex_index",
    "clips_from_index",
    "expand_sequence",
    "INDEX_COLUMNS",
    "expert_probabilities",
    "expert_sequence",
    "parse_label",
    "qualified_subject",
]
