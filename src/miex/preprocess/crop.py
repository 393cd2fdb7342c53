"""Which frames a samples row stands for, and the face crop that recognition works on.

``[data] crop`` of an experiment (and the ``--crop`` options of the CLI) chooses:

- ``"auto"`` (default): crop raw recordings the :data:`DEFAULT_CROP` way; leave rows whose
  frames are already face crops (the ``cropped`` column: CASME II ``Cropped/``, ``miex synth``
  sets) as they are;
- ``"meb"``: eye-aligned crops (the MEB benchmark's way; the same alignment miex's face pools
  and MiE-X sets use, so synthetic pre-training and real fine-tuning see the same geometry);
- ``"mie-x"``: the MiE-X code's square box around the detected face, no rotation;
- ``"none"``: whole frames (squashed to a square by the model input).

A crop is one transform per clip, found on the onset frame and applied to every frame from
onset to offset (:func:`miex.datasets.crops.crop_clip_info`), so the subtle motion between
frames is kept. Crops live in the crop cache under the key ``<dataset>/<subject>/<clip>``, the
same entry ``miex datasets crop --frames clip`` writes, so that command pre-computes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from miex.datasets.base import clip_files, frame_file, frame_number, read_frame
from miex.errors import InputError, MiexError
from miex.subjects import local_id

CROP_CHOICES: tuple[str, ...] = ("auto", "meb", "mie-x", "none")
#: The crop ``"auto"`` gives raw recordings.
DEFAULT_CROP = "meb"
#: Smallest crop side: flow is computed on the crop, then resized to the model input (28 px for
#: STSTNet), so the crop must keep the face's fine motion.
MIN_CROP_SIZE = 128


def crop_method_of(choice: str, row: Mapping[str, Any]) -> str:
    """The crop method (``meb``, ``mie-x`` or ``none``) of one samples row under ``choice``."""
    if choice not in CROP_CHOICES:
        raise MiexError(f"crop must be one of {', '.join(CROP_CHOICES)}, got {choice!r}")
    if choice == "auto":
        return "none" if bool(row.get("cropped", False)) else DEFAULT_CROP
    return choice


def cache_key(row: Mapping[str, Any]) -> str:
    """The crop-cache key of a samples row (as ``miex datasets crop`` writes it)."""
    return f"{row['dataset']}/{local_id(str(row['subject']))}/{row['clip']}"


def missing_frames(row: Mapping[str, Any]) -> list[str]:
    """Which annotated frames (``onset``, ``apex``) of a row are not on disk (a nearest frame
    stands in for them)."""
    numbers = {frame_number(f) for f in row["frames"]}
    return [f"{what} {int(row[what])}" for what in ("onset", "apex") if int(row[what]) not in numbers]


@dataclass(frozen=True)
class CropPlan:
    """The crop settings of a run: ``choice`` (see the module docstring), the crop ``size`` in
    pixels, the ``margin`` (None: the method's default), the detector's ``upsample`` and the
    crop ``cache_dir`` (None: the user cache)."""

    choice: str = "auto"
    size: int = MIN_CROP_SIZE
    margin: float | None = None
    upsample: int = 1
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.choice not in CROP_CHOICES:
            raise MiexError(f"crop must be one of {', '.join(CROP_CHOICES)}, got {self.choice!r}")
        if int(self.size) < 8:
            raise MiexError(f"crop size must be at least 8, got {self.size}")

    def method(self, row: Mapping[str, Any]) -> str:
        return crop_method_of(self.choice, row)

    def feature_settings(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """What the crop adds to a feature-cache key (nothing for whole frames)."""
        method = self.method(row)
        if method == "none":
            return {}
        from miex.datasets.crops import CropSettings

        settings = CropSettings(method=method, size=int(self.size), margin=self.margin, upsample=int(self.upsample))
        return {"crop": settings.as_dict()}

    def describe(self, samples) -> str:
        """One line for logs, ``--dry-run`` and reports."""
        methods = [self.method(r) for r in samples.to_dict("records")] if len(samples) else []
        cropped = sum(m != "none" for m in methods)
        if not cropped:
            return f"crop {self.choice}: whole frames for all {len(methods)} samples"
        kinds = sorted({m for m in methods if m != "none"})
        rest = len(methods) - cropped
        tail = f"; {rest} already-cropped sample(s) used as they are" if rest else ""
        return f"crop {self.choice}: {'/'.join(kinds)} face crops of {self.size} px for {cropped} sample(s){tail}"


@dataclass
class CropFailure:
    row: int
    path: str
    reason: str


class FrameReader:
    """Frames of samples rows (dicts with ``dataset, subject, clip, onset, apex, offset,
    frames`` and optionally ``cropped``), as files or as face crops (``plan``).

    Picklable (DataLoader and feature workers get their own copy); the face detector is created
    on first use, and the onset/apex crops served are kept in memory (``memo_bytes`` at most).
    """

    def __init__(self, plan: CropPlan | None = None, *, memo_bytes: int = 1 << 30) -> None:
        self.plan = plan or CropPlan(choice="none")
        self.memo_bytes = int(memo_bytes)
        self._memo: dict[str, tuple[np.ndarray, ...]] = {}
        self._memo_size = 0
        self._detector: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"plan": self.plan, "memo_bytes": self.memo_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["plan"], memo_bytes=state["memo_bytes"])

    # ------------------------------------------------------------------ frames of a row
    def pair(self, row: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(onset, apex) RGB frames."""
        if self.plan.method(row) == "none":
            return read_frame(frame_file(row["frames"], int(row["onset"]))), \
                read_frame(frame_file(row["frames"], int(row["apex"])))
        key = cache_key(row)
        hit = self._memo.get(key)
        if hit is None:
            paths = clip_files(row)
            crops = self._crops(row, paths)
            index = {p: i for i, p in enumerate(paths)}
            onset = index[frame_file(row["frames"], int(row["onset"]))]
            apex = index[frame_file(row["frames"], int(row["apex"]))]
            hit = (np.ascontiguousarray(crops[onset]), np.ascontiguousarray(crops[apex]))
            self._remember(key, hit)
        return hit[0], hit[1]

    def clip(self, row: Mapping[str, Any]) -> list[np.ndarray]:
        """The frames from onset to offset."""
        paths = clip_files(row)
        if self.plan.method(row) == "none":
            return [read_frame(p) for p in paths]
        return list(self._crops(row, paths))

    def prepare(self, rows: Sequence[Mapping[str, Any]], *, progress: bool = False,
                log: Callable[[str], None] | None = None) -> list[CropFailure]:
        """Make sure every row that needs a crop has one in the cache (face detection once per
        clip; later runs read the cache). Returns the rows whose onset frame has no usable face
        (or an unreadable frame), each reported once through ``log``."""
        from tqdm import tqdm

        todo = [i for i, r in enumerate(rows) if self.plan.method(r) != "none"]
        failures: list[CropFailure] = []
        for i in tqdm(todo, desc="face crops", unit="clip", disable=not progress or not todo, leave=False):
            try:
                self._crops(rows[i], clip_files(rows[i]))
            except InputError as exc:
                failures.append(CropFailure(i, str(exc.path), exc.reason))
                if log is not None:
                    log(f"skipped {cache_key(rows[i])}: {exc.path}: {exc.reason}")
        return failures

    # ------------------------------------------------------------------ internals
    def _crops(self, row: Mapping[str, Any], paths: list[str]) -> np.ndarray:
        from miex.datasets.crops import crop_clip_info

        plan = self.plan
        onset = frame_file(row["frames"], int(row["onset"]))
        info = crop_clip_info(paths, plan.method(row), int(plan.size), margin=plan.margin, reference=onset,
                              detector=self._face_detector(), cache=True, cache_dir=plan.cache_dir,
                              cache_key=cache_key(row))
        return info.crops

    def _face_detector(self):
        if self._detector is None:
            from miex.faces import FaceDetector

            self._detector = FaceDetector(upsample=int(self.plan.upsample))
        return self._detector

    def _remember(self, key: str, frames: tuple[np.ndarray, ...]) -> None:
        size = sum(f.nbytes for f in frames)
        if self._memo_size + size <= self.memo_bytes:
            self._memo[key] = frames
            self._memo_size += size


__all__ = ["CROP_CHOICES", "DEFAULT_CROP", "MIN_CROP_SIZE", "CropFailure", "CropPlan", "FrameReader",
           "cache_key", "crop_method_of", "missing_frames"]
