"""One clip interface for macro-expression videos: dataset clips, video files and frame folders.

Sources (:func:`find_clips`, :func:`dataset_clips`, :func:`collect_clips`):

- the macro-expression datasets miex reads: CK+ (every sequence, labelled or not), Oulu-CASIA,
  and the macro part of MMEW (``dataset_clips("mmew")`` reads ``part="macro"``); any other
  dataset name works too (its clips are used whole);
- any folder, searched recursively, of video files (:data:`VIDEO_SUFFIXES`, decoded with
  OpenCV's ``VideoCapture``) and of frame folders (a folder holding image files is one clip,
  its frames sorted by their numeric part); ``miex synth --frames clip`` output folders are
  such trees (one frame folder per sample).

Every clip goes through the same preprocessing: the face is found on its **first frame**, and that
one transform crops and aligns every frame (:func:`miex.datasets.crops.crop_clip_info`, method
``"meb"`` (default, as :mod:`miex.preprocess` crops raw recordings for recognition) or
``"mie-x"``; one transform per clip keeps the facial motion free of detector
jitter). Crops are cached: frame folders and dataset clips in crop_clip's own cache (dataset clips
under the same ``<dataset>/<subject>/<clip>`` keys as ``miex datasets crop``), videos as
``<crop cache>/<settings hash>/_videos/<hash of path, stride, max_frames>.npz`` in the same file
format (``crops`` array, readable by :func:`~miex.datasets.crops.load_crops`), stamped with the
video's path, size and modification time. A clip without a face on its first frame is cached as
that error too, so a second run neither decodes nor detects anything.

A clip without a face, an unreadable file and a clip shorter than ``min_frames`` are counted
skips (:class:`~miex.errors.SkipLog`, one summary line at the end), never a crash.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from miex.errors import InputError, MiexError, SkipLog

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg"})
#: Macro-expression datasets and the constructor options that select their macro clips.
MAE_DATASETS: dict[str, dict[str, Any]] = {
    "ckplus": {"labelled_only": False},
    "oulu": {},
    "mmew": {"part": "macro"},
}
#: Bump when the video decoding/cropping changes, so old video cache entries are not reused.
VIDEO_CACHE_VERSION = 1


@dataclass(frozen=True)
class ClipSettings:
    """How clips are decoded and cropped."""

    size: int = 128
    method: str = "meb"  # the crop `miex train` gives raw recordings ([data] crop = "auto")
    margin: float | None = None
    upsample: int = 1
    min_frames: int = 4
    max_frames: int = 300  # frames kept from the start of a video (after ``stride``)
    stride: int = 1  # keep every ``stride``-th frame of a video

    def __post_init__(self) -> None:
        if int(self.min_frames) < 2:
            raise MiexError(f"min_frames must be at least 2, got {self.min_frames}")
        if int(self.max_frames) < int(self.min_frames):
            raise MiexError(f"max_frames ({self.max_frames}) must be >= min_frames ({self.min_frames})")
        if int(self.stride) < 1:
            raise MiexError(f"stride must be a positive integer, got {self.stride}")


@dataclass(frozen=True)
class ClipRef:
    """Where one clip comes from, before any decoding. ``kind``: video | frames | dataset."""

    key: str  # unique name, e.g. ``ckplus/S005/S005_001`` or the path relative to --videos
    kind: str
    source: str  # the video file or clip folder (named in messages)
    frames: tuple[str, ...] = ()  # frame files (kinds frames and dataset)


@dataclass(frozen=True)
class MacroClip:
    """A preprocessed clip: its crops live in ``crops`` (an ``.npz`` of the crop cache)."""

    key: str
    kind: str
    source: str
    n_frames: int
    crops: str

    def load(self) -> np.ndarray:
        """The clip's (T, S, S, 3) uint8 RGB crops."""
        from miex.datasets.crops import load_crops

        return load_crops(self.crops)


# --------------------------------------------------------------------------- discovery
def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES and path.is_file() and not path.name.startswith(".")


def find_clips(folder: str | os.PathLike[str]) -> list[ClipRef]:
    """Every video file and every folder holding image files under ``folder`` (recursive,
    sorted by path; hidden entries are ignored). Raises MiexError when ``folder`` is not a folder."""
    from miex.datasets.base import list_frames

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise MiexError(f"{root}: --videos needs a folder of videos or frame folders")
    refs: list[ClipRef] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        for name in sorted(filenames):
            path = here / name
            if _is_video(path):
                refs.append(ClipRef(f"{root.name}/{path.relative_to(root).as_posix()}", "video", str(path)))
        frames = list_frames(here)
        if frames:
            rel = here.relative_to(root).as_posix()
            key = root.name if rel == "." else f"{root.name}/{rel}"
            refs.append(ClipRef(key, "frames", str(here), tuple(frames)))
    return refs


def parse_dataset_arg(text: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME=ROOT`` (the ``--dataset`` syntax) -> (name, root or None)."""
    name, _, root = text.partition("=")
    if not name.strip():
        raise MiexError(f"--dataset {text!r}: expected NAME or NAME=ROOT")
    return name.strip(), (root.strip() or None)


def dataset_clips(name: str, root: str | os.PathLike[str] | None = None) -> list[ClipRef]:
    """The clips of a dataset miex reads, whole (label-free: every parsed clip of
    ``annotations``). MaE datasets get the options of :data:`MAE_DATASETS`."""
    from miex.datasets import canonical_name, load_dataset

    key = canonical_name(name)
    ds = load_dataset(key, root, **MAE_DATASETS.get(key, {}))
    refs = []
    for _, row in ds.annotations.iterrows():
        frames = tuple(str(f) for f in row["frames"])
        if not frames:
            continue
        local = str(row["subject"]).split("/", 1)[-1]
        refs.append(ClipRef(f"{row['dataset']}/{local}/{row['clip']}", "dataset", str(Path(frames[0]).parent), frames))
    return refs


# --------------------------------------------------------------------------- videos
def read_video(path: str | os.PathLike[str], *, stride: int = 1, max_frames: int | None = None) -> np.ndarray:
    """Decode a video file with OpenCV -> (T, H, W, 3) uint8 RGB (every ``stride``-th frame,
    at most ``max_frames``). Raises InputError naming the file when it cannot be decoded."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # no libav chatter on stderr for broken files
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(path, "unreadable video: OpenCV cannot open it")
        frames: list[np.ndarray] = []
        index = 0
        while max_frames is None or len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            if index % stride == 0:
                frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        cap.release()
    if not frames:
        raise InputError(path, "unreadable video: no frame could be decoded")
    return np.stack(frames)


def _video_entry(ref: ClipRef, settings: ClipSettings, cache_dir: Path) -> tuple[Path, str, Any]:
    """(cache file, identity, crop settings) of a video clip."""
    from miex.datasets.crops import CropSettings, cache_path, frame_identity

    crop = CropSettings(method=settings.method, size=int(settings.size), margin=settings.margin,
                        upsample=int(settings.upsample))
    what = f"{Path(ref.source).absolute()}\0{settings.stride}\0{settings.max_frames}\0{VIDEO_CACHE_VERSION}"
    digest = hashlib.sha256(what.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return cache_path(cache_dir, crop.digest(), f"_videos/{digest}"), frame_identity([ref.source], ref.source), crop


def _crop_video(ref: ClipRef, settings: ClipSettings, detector, cache_dir: Path) -> MacroClip:
    """A video's crops in the crop cache's entry format (:func:`miex.datasets.crops.read_entry`)."""
    from miex.datasets.crops import crop_clip_info, read_entry, write_entry

    entry, identity, crop = _video_entry(ref, settings, cache_dir)
    hash_dir = cache_dir / crop.digest()
    cached = read_entry(entry, identity)
    if cached is not None and "error" in cached:
        raise InputError(cached["error_path"], cached["error"])
    if cached is None:
        try:
            frames = read_video(ref.source, stride=settings.stride, max_frames=settings.max_frames)
            info = crop_clip_info(frames, settings.method, settings.size, margin=settings.margin,
                                  detector=detector, upsample=settings.upsample, cache=False)
        except InputError as exc:
            # "<array>" (the decoded first frame) is named after its video
            where = ref.source if exc.path == "<array>" else exc.path
            write_entry(entry, hash_dir, crop.as_dict(), identity=identity, error=exc.reason, error_path=where)
            raise InputError(where, exc.reason) from None
        write_entry(entry, hash_dir, crop.as_dict(), identity=identity, crops=info.crops, transform=info.transform,
                    source=ref.source)
        n = len(info.crops)
    else:
        n = len(cached["crops"])
    return MacroClip(ref.key, ref.kind, ref.source, n, str(entry))


# --------------------------------------------------------------------------- preprocessing
def prepare_clip(ref: ClipRef, settings: ClipSettings, *, detector=None, cache_dir: str | os.PathLike[str] | None = None
                 ) -> MacroClip:
    """Crop one clip (face found on its first frame) into the cache -> :class:`MacroClip`.

    Raises InputError (no face, unreadable file, too few frames) naming the file.
    """
    from miex.datasets.crops import crop_clip_info, default_crop_cache_dir

    root = Path(cache_dir) if cache_dir is not None else default_crop_cache_dir()
    if ref.kind == "video":
        clip = _crop_video(ref, settings, detector, root)
    elif ref.kind in ("frames", "dataset"):
        if len(ref.frames) < settings.min_frames:  # checked before any decoding
            raise InputError(ref.source, f"too short: {len(ref.frames)} frame(s), need {settings.min_frames}")
        frames = list(ref.frames[: settings.max_frames])
        info = crop_clip_info(frames, settings.method, settings.size, margin=settings.margin, detector=detector,
                              upsample=settings.upsample, cache=True, cache_dir=root,
                              cache_key=ref.key if ref.kind == "dataset" else None)
        clip = MacroClip(ref.key, ref.kind, ref.source, len(info.crops), str(info.cache))
    else:
        raise MiexError(f"unknown clip kind {ref.kind!r}")
    if clip.n_frames < settings.min_frames:
        raise InputError(ref.source, f"too short: {clip.n_frames} frame(s), need {settings.min_frames}")
    return clip


def prepare_clips(
    refs: Sequence[ClipRef],
    settings: ClipSettings,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    skips: SkipLog | None = None,
    progress: bool = True,
) -> list[MacroClip]:
    """:func:`prepare_clip` for every ref (one face detector, a tqdm bar); bad clips go to
    ``skips`` and are left out."""
    from tqdm import tqdm

    from miex.faces import FaceDetector

    detector = FaceDetector(upsample=settings.upsample)
    skips = skips if skips is not None else SkipLog()
    clips = []
    for ref in tqdm(refs, desc="clips", unit="clip", disable=None if progress else True):
        try:
            clips.append(prepare_clip(ref, settings, detector=detector, cache_dir=cache_dir))
        except InputError as exc:
            skips.add(exc.path, exc.reason)
    return clips


def collect_clips(
    videos: Iterable[str | os.PathLike[str]] = (),
    datasets: Iterable[str] = (),
    settings: ClipSettings | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    skips: SkipLog | None = None,
    progress: bool = True,
) -> list[MacroClip]:
    """All clips of the ``videos`` folders and the ``datasets`` (``NAME`` or ``NAME=ROOT``),
    preprocessed (see the module docstring). Raises MiexError when no source is given or
    when no usable clip remains."""
    settings = settings or ClipSettings()
    videos, datasets = list(videos), list(datasets)
    refs: list[ClipRef] = []
    for folder in videos:
        refs.extend(find_clips(folder))
    for text in datasets:
        refs.extend(dataset_clips(*parse_dataset_arg(text)))
    if not videos and not datasets:
        raise MiexError("no clip source: give --videos DIR and/or --dataset NAME")
    keys = [r.key for r in refs]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:3]
        raise MiexError(f"two clip sources share the names {', '.join(dup)}; give folders with distinct names")
    clips = prepare_clips(refs, settings, cache_dir=cache_dir, skips=skips, progress=progress)
    if not clips:
        raise MiexError(f"no usable clip among {len(refs)} found (each was skipped: no face, unreadable or too short)")
    return clips


__all__ = [
    "ClipRef",
    "ClipSettings",
    "MAE_DATASETS",
    "MacroClip",
    "VIDEO_SUFFIXES",
    "collect_clips",
    "dataset_clips",
    "find_clips",
    "parse_dataset_arg",
    "prepare_clip",
    "prepare_clips",
    "read_video",
]
