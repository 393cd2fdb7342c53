"""Face crops for real clips: one geometric transform per clip, found on one frame, applied to all.

Two ways, both square crops of ``size`` pixels:

``method="mie-x"`` (the MiE-X code's way)
    dlib detects one face box on the reference frame (the onset by default). The box is made
    square around its centre, enlarged by ``margin`` of its side on every side (default
    :data:`DEFAULT_MARGINS` ``["mie-x"]`` = 0.2: dlib's box cuts the forehead and the chin), and
    that same square is cut from every frame of the clip and resized to ``size``. No rotation.
``method="meb"`` (the MEB benchmark's way)
    The reference frame is aligned by its eye centres (:func:`miex.faces.detect_face`, margin
    default 0.1, see :mod:`miex.faces.align`), and the same similarity transform
    (:attr:`miex.faces.Face.transform`) warps every frame (:func:`miex.faces.apply_alignment`).

Keeping one transform per clip keeps the subtle motion of a micro-expression: re-detecting on
every frame would add detector jitter of the same size as the motion itself.

Pixels outside a frame are filled by replicating its border.

Cache
-----
Crops are stored as one ``.npz`` per clip under
``<cache>/<settings hash>/<dataset>/<subject>/<clip>.npz`` (clips given as plain frame lists go
to ``<cache>/<settings hash>/_clips/<hash of their paths>.npz``). ``<cache>`` is
``$MIEX_CACHE_DIR/crops``, else ``$XDG_CACHE_HOME/miex/crops`` or ``~/.cache/miex/crops``.
The settings hash covers the method, size, margin, detector settings (upsample, landmark
model) and :data:`CROP_CODE_VERSION`; ``<settings hash>/settings.json`` spells them out. Each
file also records the identity of the clip's frames (path, size and modification time of each
frame and of the reference frame): a changed frame means a new crop, never a stale one. Files
are written atomically, so a second run reads them without any face detection. A clip whose
reference frame has no face is cached too (as that error), so it is not re-detected either.

Errors
------
No face on the reference frame raises :class:`~miex.errors.InputError` naming that frame; an
unreadable frame names the frame. :func:`crop_dataset` logs such clips to a
:class:`~miex.errors.SkipLog` and goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from miex.cache import user_cache_dir
from miex.errors import InputError, MiexError, SkipLog

CROP_METHODS: tuple[str, ...] = ("mie-x", "meb")
#: Default margin per method (fraction of the crop side left around the face square).
DEFAULT_MARGINS: dict[str, float] = {"mie-x": 0.2, "meb": 0.1}
#: Bump when the crop geometry changes, so old cache entries are not reused.
CROP_CODE_VERSION = 1

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")

# --------------------------------------------------------------------------------------------
# settings and cache


def default_crop_cache_dir() -> Path:
    """``$MIEX_CACHE_DIR/crops`` if set, else ``$XDG_CACHE_HOME/miex/crops`` or ``~/.cache/miex/crops``."""
    return user_cache_dir("crops")


@dataclass(frozen=True)
class CropSettings:
    """What determines a clip's crops (besides its frames)."""

    method: str = "mie-x"
    size: int = 128
    margin: float | None = None  # None: DEFAULT_MARGINS[method]
    upsample: int = 1

    def __post_init__(self) -> None:
        if self.method not in CROP_METHODS:
            raise MiexError(f"crop method must be one of {', '.join(CROP_METHODS)}, got {self.method!r}")
        if int(self.size) < 8:
            raise MiexError(f"crop size must be at least 8, got {self.size}")
        margin = self.resolved_margin
        if not -0.25 <= margin < 0.45:
            raise MiexError(f"crop margin must be in [-0.25, 0.45), got {margin}")
        if not 0 <= int(self.upsample) <= 4:
            raise MiexError(f"detector upsample must be between 0 and 4, got {self.upsample}")

    @property
    def resolved_margin(self) -> float:
        return float(DEFAULT_MARGINS[self.method] if self.margin is None else self.margin)

    def as_dict(self, detector_settings: dict[str, Any] | None = None) -> dict[str, Any]:
        from miex.faces.models import SHAPE_PREDICTOR_68

        det = detector_settings or {"detector": "dlib-hog", "upsample": int(self.upsample), "landmarks": SHAPE_PREDICTOR_68}
        return {
            "method": self.method,
            "size": int(self.size),
            "margin": self.resolved_margin,
            "detector": dict(det),
            "version": CROP_CODE_VERSION,
        }

    def digest(self, detector_settings: dict[str, Any] | None = None) -> str:
        text = json.dumps(self.as_dict(detector_settings), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def frame_identity(paths: Sequence[str | os.PathLike[str]], reference: str | os.PathLike[str]) -> str:
    """A digest of the frames' absolute paths, sizes and modification times (and the reference's)."""
    h = hashlib.sha256()
    for p in [reference, *paths]:
        path = Path(p).absolute()
        try:
            st = path.stat()
        except OSError as exc:
            raise InputError(path, f"unreadable frame: {exc.strerror or exc}") from None
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _safe_parts(key: str) -> list[str]:
    parts = [p for p in str(key).split("/") if p and p not in (".", "..")]
    if not parts:
        raise MiexError(f"crop cache key must be a non-empty string, got {key!r}")
    safe = [_SAFE.sub("_", p) for p in parts]
    if safe != parts:  # keep distinct keys distinct after sanitising
        safe[-1] += "-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
    return safe


def cache_path(cache_dir: str | os.PathLike[str], digest: str, key: str) -> Path:
    """``<cache_dir>/<digest>/<key>.npz`` (key parts sanitised)."""
    parts = _safe_parts(key)
    return Path(cache_dir).joinpath(digest, *parts[:-1], parts[-1] + ".npz")


def load_crops(path: str | os.PathLike[str]) -> np.ndarray:
    """The (T, S, S, 3) uint8 crops of one cache file (``crops`` column of :func:`crop_dataset`)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return np.asarray(data["crops"])
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise InputError(path, f"unreadable crop file: {exc}") from None


def read_entry(path: Path, identity: str) -> dict[str, Any] | None:
    """A cache entry whose frame identity matches, or ``None`` (absent, stale or damaged)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["identity"]) != identity:
                return None
            if "error" in data.files:
                return {"error": str(data["error"]), "error_path": str(data["error_path"])}
            return {"crops": np.asarray(data["crops"]), "transform": np.asarray(data["transform"])}
    except (OSError, ValueError, KeyError, EOFError, TypeError):
        return None


def write_entry(path: Path, hash_dir: Path, settings_dict: dict[str, Any], **arrays: Any) -> None:
    """Write one cache entry atomically (and ``<hash_dir>/settings.json`` once)."""
    from miex.io import atomic_path, write_json

    meta = hash_dir / "settings.json"
    if not meta.exists():
        write_json(meta, settings_dict)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **{k: np.asarray(v) for k, v in arrays.items()})


# --------------------------------------------------------------------------------------------
# geometry


def box_transform(box: tuple[int, int, int, int], size: int, margin: float) -> np.ndarray:
    """The 2x3 source -> crop transform of the MiE-X way: the square around ``box``'s centre with
    side ``max(w, h) * (1 + 2 margin)`` mapped onto ``size`` x ``size`` pixels (no rotation)."""
    left, top, right, bottom = (float(v) for v in box)
    side = max(right - left, bottom - top) * (1.0 + 2.0 * float(margin))
    if side <= 0:
        raise MiexError(f"empty face box {box}")
    cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
    x0, y0 = cx - side / 2.0, cy - side / 2.0
    s = float(size) / side
    # pixel centres: source pixel i spans [i, i + 1); crop pixel j likewise
    return np.array([[s, 0.0, s * (0.5 - x0) - 0.5], [0.0, s, s * (0.5 - y0) - 0.5]])


def reference_transform(
    reference: str | os.PathLike[str] | np.ndarray,
    settings: CropSettings,
    detector=None,
) -> np.ndarray:
    """The clip's 2x3 transform, found on the reference frame (path or RGB array).

    Raises :class:`InputError` naming the frame when it has no usable face.
    """
    from miex.faces import FaceDetector, detect_face, load_image, locate_face

    det = detector if detector is not None else FaceDetector(upsample=settings.upsample)
    what = "<array>" if isinstance(reference, np.ndarray) else str(reference)
    try:
        if settings.method == "meb":
            face = detect_face(reference, size=int(settings.size), margin=settings.resolved_margin, detector=det)
            return np.asarray(face.transform, dtype=np.float64)
        rgb = reference if isinstance(reference, np.ndarray) else load_image(reference)
        box, _, _ = locate_face(rgb, det, what)
    except InputError as exc:
        raise InputError(exc.path, f"{exc.reason} (the reference frame of the clip; cannot crop it)") from None
    return box_transform(box, int(settings.size), settings.resolved_margin)


def _warp_all(frames: Sequence[str | os.PathLike[str]] | Sequence[np.ndarray], transform: np.ndarray, size: int) -> np.ndarray:
    from miex.faces import apply_alignment, load_image

    out = np.empty((len(frames), size, size, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        rgb = frame if isinstance(frame, np.ndarray) else load_image(frame)
        out[i] = apply_alignment(rgb, transform, size)
    return out


# --------------------------------------------------------------------------------------------
# clips


@dataclass
class ClipCrops:
    """Crops of one clip and how they were made."""

    crops: np.ndarray  # (T, S, S, 3) uint8
    transform: np.ndarray  # (2, 3) source -> crop
    reference: str  # reference frame path ("<array>" for arrays)
    cache: Path | None  # the cache file, None when not cached
    cached: bool  # True when read from the cache


def _frame_list(frames: Any) -> tuple[list[str] | None, list[np.ndarray] | None]:
    """(paths, None) for a folder or a list of paths; (None, arrays) for arrays."""
    from miex.datasets.base import list_frames

    if isinstance(frames, np.ndarray):
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4:
            raise MiexError(f"frames array must be (T, H, W, 3), got shape {frames.shape}")
        return None, list(frames)
    if isinstance(frames, (str, os.PathLike)):
        folder = Path(frames)
        if not folder.is_dir():
            raise InputError(folder, "not a folder of frames")
        paths = list_frames(folder)
        if not paths:
            raise InputError(folder, "no image files in this clip folder")
        return paths, None
    items = list(frames)
    if not items:
        raise MiexError("crop_clip needs at least one frame")
    if all(isinstance(f, np.ndarray) for f in items):
        return None, items
    return [str(f) for f in items], None


def crop_clip_info(
    frames: Any,
    method: str = "mie-x",
    size: int = 128,
    *,
    margin: float | None = None,
    reference: int | str | os.PathLike[str] = 0,
    detector=None,
    upsample: int = 1,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    cache_key: str | None = None,
) -> ClipCrops:
    """:func:`crop_clip` with the transform, reference and cache file (see there)."""
    if detector is not None:
        upsample = detector.upsample
    settings = CropSettings(method=method, size=int(size), margin=margin, upsample=int(upsample))
    paths, arrays = _frame_list(frames)
    n = len(paths if paths is not None else arrays)
    if isinstance(reference, (int, np.integer)):
        if not -n <= int(reference) < n:
            raise MiexError(f"reference index {reference} out of range for {n} frames")
        ref: Any = paths[int(reference)] if paths is not None else arrays[int(reference)]
    else:
        if arrays is not None:
            raise MiexError("with frame arrays, reference must be an index")
        ref = str(reference)

    det_settings = detector.settings if detector is not None else None
    entry_path = None
    identity = ""
    root = Path(cache_dir) if cache_dir is not None else default_crop_cache_dir()
    digest = settings.digest(det_settings)
    if cache and paths is not None:
        if cache_key is None:
            listing = "\n".join(str(Path(p).absolute()) for p in [ref, *paths])
            cache_key = "_clips/" + hashlib.sha256(listing.encode("utf-8", "surrogateescape")).hexdigest()[:24]
        entry_path = cache_path(root, digest, cache_key)
        identity = frame_identity(paths, ref)
        entry = read_entry(entry_path, identity)
        if entry is not None:
            if "error" in entry:
                raise InputError(entry["error_path"], entry["error"])
            return ClipCrops(entry["crops"], entry["transform"], str(ref), entry_path, True)

    try:
        transform = reference_transform(ref, settings, detector)
    except InputError as exc:
        if entry_path is not None:
            write_entry(
                entry_path, root / digest, settings.as_dict(det_settings),
                identity=identity, error=exc.reason, error_path=exc.path,
            )
        raise
    crops = _warp_all(paths if paths is not None else arrays, transform, settings.size)
    if entry_path is not None:
        write_entry(
            entry_path,
            root / digest,
            settings.as_dict(det_settings),
            identity=identity,
            crops=crops,
            transform=transform,
            reference=str(ref),
            frames=np.array(paths, dtype=str),
        )
    return ClipCrops(crops, transform, "<array>" if isinstance(ref, np.ndarray) else str(ref), entry_path, False)


def crop_clip(
    frames: Any,
    method: str = "mie-x",
    size: int = 128,
    *,
    margin: float | None = None,
    reference: int | str | os.PathLike[str] = 0,
    detector=None,
    upsample: int = 1,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    cache_key: str | None = None,
) -> np.ndarray:
    """Face crops of one clip, ``(T, size, size, 3)`` uint8 RGB, one transform for all frames.

    ``frames``: a clip folder (frames sorted by their numeric part), a list of frame paths (kept
    in the given order), or RGB arrays (T, H, W, 3) (never cached). ``method``: ``"mie-x"``
    (one detected box, square + ``margin``) or ``"meb"`` (eye alignment of the reference frame);
    see the module docstring. ``reference``: the frame the face is found on, an index into
    ``frames`` (default 0: pass the frames from the onset on) or a frame path. ``detector``:
    a :class:`miex.faces.FaceDetector` (its ``upsample`` wins over ``upsample``).
    ``cache``/``cache_dir``/``cache_key``: see the module docstring (``cache_key`` such as
    ``casme2/sub01/EP02_01f`` names the cache file).

    Raises :class:`InputError` naming the reference frame when it has no face, or naming an
    unreadable frame.
    """
    return crop_clip_info(
        frames,
        method,
        size,
        margin=margin,
        reference=reference,
        detector=detector,
        upsample=upsample,
        cache=cache,
        cache_dir=cache_dir,
        cache_key=cache_key,
    ).crops


# --------------------------------------------------------------------------------------------
# datasets


CROP_INDEX_COLUMNS: tuple[str, ...] = (
    "dataset", "subject", "clip", "label", "onset", "apex", "offset", "n_frames", "frames", "reference", "crops",
)


def clip_frame_paths(dataset, row: pd.Series | dict, frames: str = "clip") -> list[str]:
    """The frames of a sample to crop: ``"clip"`` = onset..offset, ``"all"`` = the whole folder,
    ``"pair"`` = onset and apex."""
    if frames == "clip":
        return list(dataset.clip_paths(row))
    if frames == "all":
        return list(row["frames"])
    if frames == "pair":
        return [dataset.frame_path(row, int(row["onset"])), dataset.frame_path(row, int(row["apex"]))]
    raise MiexError(f"frames must be clip, all or pair, got {frames!r}")


def crop_dataset(
    dataset,
    method: str = "mie-x",
    size: int = 128,
    *,
    margin: float | None = None,
    frames: str = "clip",
    upsample: int = 1,
    detector=None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    skips: SkipLog | None = None,
) -> pd.DataFrame:
    """Crop every sample of a dataset (a :class:`~miex.datasets.MiexDataset` or a name for
    :func:`~miex.datasets.load_dataset`) into the crop cache, the face found on its onset frame.

    ``frames``: which frames are cropped (``"clip"`` onset..offset, ``"all"``, ``"pair"``).
    Returns one row per cropped clip with :data:`CROP_INDEX_COLUMNS` (``crops`` = the cache file;
    read it with :func:`load_crops` or call :func:`crop_clip` again, which reads the cache).
    Clips without a face on the onset frame, or with an unreadable frame, are logged to
    ``skips`` (a new echoing :class:`SkipLog` by default, stored in ``result.attrs["skips"]``)
    and left out.
    """
    from tqdm import tqdm

    from miex.datasets import load_dataset
    from miex.faces import FaceDetector

    if isinstance(dataset, str):
        dataset = load_dataset(dataset)
    settings = CropSettings(method=method, size=int(size), margin=margin, upsample=int(upsample))
    det = detector if detector is not None else FaceDetector(upsample=settings.upsample)
    skips = skips if skips is not None else SkipLog()
    rows = []
    samples = dataset.samples
    for row in tqdm(
        [r for _, r in samples.iterrows()],
        desc=f"crops {getattr(dataset, 'name', '')}",
        unit="clip",
        disable=None if progress else True,
    ):
        local = str(row["subject"]).split("/", 1)[-1]
        key = f"{row['dataset']}/{local}/{row['clip']}"
        try:
            paths = clip_frame_paths(dataset, row, frames)
            if not paths:
                raise InputError(key, "clip has no frames")
            onset = dataset.frame_path(row, int(row["onset"]))
            info = crop_clip_info(
                paths,
                settings.method,
                settings.size,
                margin=settings.margin,
                reference=onset,
                detector=det,
                cache=True,
                cache_dir=cache_dir,
                cache_key=key,
            )
        except InputError as exc:
            skips.add(exc.path, exc.reason)
            continue
        rows.append(
            {
                "dataset": row["dataset"],
                "subject": row["subject"],
                "clip": row["clip"],
                "label": int(row["label"]),
                "onset": int(row["onset"]),
                "apex": int(row["apex"]),
                "offset": int(row["offset"]),
                "n_frames": len(paths),
                "frames": paths,
                "reference": info.reference,
                "crops": str(info.cache),
            }
        )
    out = pd.DataFrame(rows, columns=list(CROP_INDEX_COLUMNS))
    out.attrs["skips"] = list(skips.items)
    return out


__all__ = [
    "CROP_CODE_VERSION",
    "CROP_INDEX_COLUMNS",
    "CROP_METHODS",
    "ClipCrops",
    "CropSettings",
    "DEFAULT_MARGINS",
    "box_transform",
    "clip_frame_paths",
    "crop_clip",
    "crop_clip_info",
    "crop_dataset",
    "default_crop_cache_dir",
    "frame_identity",
    "load_crops",
    "reference_transform",
]
