"""Training data: a torch ``Dataset`` over a samples DataFrame (real or synthetic) that produces
the input a model's :class:`~miex.models.InputSpec` asks for, plus a seeded DataLoader factory.

Inputs per ``spec.kind``:

- ``"pair"`` (2, 3, S, S) and ``"apex"`` (3, S, S): RGB frames. Training uses the MiE-X
  augmentation of design.md (resize 256, rotate +-10 deg, colour jitter 0.2, random crop 224,
  normalise with mean/std 0.5), scaled to the model size S: frames are resized to
  ``round(S * 256 / 224)``, then one affine warp rotates and crops them to S. The *same*
  random transform (angle, crop, jitter factors) is applied to the onset and the apex, so
  the motion between them is untouched. Evaluation resizes to the same size and takes the
  centre crop. Implemented with cv2/numpy (no torchvision).
- ``"flow"`` (C, S, S): onset->apex flow features from :func:`miex.features.model_input`,
  read from / written to a :class:`~miex.features.FeatureCache` (no augmentation, as in the
  STSTNet / OFF-ApexNet code). :meth:`SampleDataset.prepare` computes missing features up
  front (optionally in worker processes) and keeps them in memory.
- ``"video"`` (3, T, S, S): the frames onset..offset, augmented like images (one transform
  for the whole clip) and resampled linearly in time to ``spec.frames``.

Randomness: the augmentation of sample ``i`` in epoch ``e`` comes from
``miex.seeding.rng(seed, "augment", stream, e, i)``: it does not depend on the worker that
loads the sample, on the batch order or on where a resumed run restarted. Shuffling comes
from ``DistributedSampler(seed=..., shuffle=True).set_epoch(e)`` (also used, with one replica,
in single-process runs), so the order of epoch ``e`` is a function of the seed and ``e`` only.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from miex.datasets.base import clip_files, frame_file
from miex.preprocess import FrameReader
from miex.errors import MiexError
from miex.seeding import rng

#: Columns a samples DataFrame needs.
REQUIRED_COLUMNS = ("dataset", "subject", "clip", "label", "onset", "apex", "frames")


@dataclass(frozen=True)
class Augment:
    """Training augmentation (design.md section 6, scaled to the model input size S).

    ``resize_ratio``: frames are resized to ``round(S * resize_ratio)`` (256/224) before the
    crop; ``rotate``: maximum absolute angle in degrees; ``jitter``: brightness, contrast and
    saturation factors are drawn from [1 - jitter, 1 + jitter]; ``hflip``: probability of a
    horizontal flip (0: the MiE-X code does not flip); ``enabled=False`` turns training
    augmentation off (evaluation preprocessing is then used for training too).
    """

    enabled: bool = True
    resize_ratio: float = 256.0 / 224.0
    rotate: float = 10.0
    jitter: float = 0.2
    hflip: float = 0.0

    def load_size(self, size: int) -> int:
        return max(int(size), int(round(int(size) * float(self.resize_ratio))))


# --------------------------------------------------------------------------- frames of a row
def frame_paths(row: Mapping[str, Any]) -> tuple[str, str]:
    """(onset file, apex file) of a samples row."""
    return _frame_pair(tuple(row["frames"]), int(row["onset"]), int(row["apex"]))


@functools.lru_cache(maxsize=1 << 16)
def _frame_pair(frames: tuple[str, ...], onset: int, apex: int) -> tuple[str, str]:
    return frame_file(frames, onset), frame_file(frames, apex)


def clip_paths(row: Mapping[str, Any]) -> list[str]:
    """Frames onset..offset of a samples row (:func:`miex.datasets.base.clip_files`)."""
    return clip_files(row)


def feature_key(row: Mapping[str, Any]) -> str:
    """Feature-cache key of a sample: subject/clip, onset/apex numbers and a digest of the two
    frame files' paths, sizes and modification times (a re-rendered clip gets a new key)."""
    onset, apex = frame_paths(row)
    parts = []
    for p in (onset, apex):
        try:
            st = os.stat(p)
            parts.append(f"{os.path.abspath(p)}|{st.st_size}|{st.st_mtime_ns}")
        except OSError:
            parts.append(os.path.abspath(p))
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:12]
    return f"{row['subject']}/{row['clip']}/o{int(row['onset'])}-a{int(row['apex'])}-{digest}"


class LazySample(Mapping):
    """A dataset sample dict whose frames are read on first access (so a feature-cache hit
    never reads an image), through ``reader`` (whole frames or face crops)."""

    def __init__(self, row: Mapping[str, Any], reader: FrameReader | None = None) -> None:
        self._row = row
        self._reader = reader or FrameReader()
        self._data: dict[str, Any] = {"label": int(row["label"]), "subject": row["subject"],
                                      "clip": row["clip"], "dataset": row["dataset"]}

    def __getitem__(self, key: str) -> Any:
        if key in self._data:
            return self._data[key]
        if key in ("onset", "apex"):
            self._data["onset"], self._data["apex"] = self._reader.pair(self._row)
            return self._data[key]
        if key == "frames":
            self._data["frames"] = np.stack(self._reader.clip(self._row))
            return self._data["frames"]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(("onset", "apex", "frames", "label", "subject", "clip", "dataset"))

    def __len__(self) -> int:
        return 7


# --------------------------------------------------------------------------- augmentation
def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    if image.shape[0] == size and image.shape[1] == size:
        return image
    shrink = size <= min(image.shape[:2])
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def draw_params(gen: np.random.Generator, load: int, size: int, aug: Augment) -> dict[str, float]:
    """One random transform (shared by every frame of a sample)."""
    j = float(aug.jitter)
    slack = load - size
    return {
        "angle": float(gen.uniform(-aug.rotate, aug.rotate)) if aug.rotate > 0 else 0.0,
        "brightness": float(gen.uniform(1 - j, 1 + j)) if j > 0 else 1.0,
        "contrast": float(gen.uniform(1 - j, 1 + j)) if j > 0 else 1.0,
        "saturation": float(gen.uniform(1 - j, 1 + j)) if j > 0 else 1.0,
        "x0": float(gen.integers(0, slack + 1)),
        "y0": float(gen.integers(0, slack + 1)),
        "flip": float(gen.random() < aug.hflip) if aug.hflip > 0 else 0.0,
    }


def center_params(load: int, size: int) -> dict[str, float]:
    """The evaluation transform: no rotation or jitter, the centre crop."""
    off = float((load - size) // 2)
    return {"angle": 0.0, "brightness": 1.0, "contrast": 1.0, "saturation": 1.0, "x0": off, "y0": off, "flip": 0.0}


def transform_frames(
    frames: list[np.ndarray] | np.ndarray,
    params: Mapping[str, float],
    load: int,
    size: int,
    mean: tuple[float, ...] | None,
    std: tuple[float, ...] | None,
) -> np.ndarray:
    """Apply one transform to every frame -> (N, 3, size, size) float32, normalised.

    Per frame: resize to ``load``; one ``cv2.warpAffine`` for rotation about the centre,
    optional flip and the crop; then brightness, contrast and saturation as affine colour
    maps (the contrast mean is the first frame's, so all frames get the same colour map).
    """
    import cv2

    angle = params["angle"]
    centre = ((load - 1) / 2.0, (load - 1) / 2.0)
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    if params["flip"]:
        m = np.array([[-1.0, 0.0, load - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0.0, 0.0, 1.0]])
    m[0, 2] -= params["x0"]
    m[1, 2] -= params["y0"]
    identity = angle == 0.0 and not params["flip"]
    out = np.empty((len(frames), size, size, 3), np.float32)
    for i, frame in enumerate(frames):
        img = resize_square(np.asarray(frame), load)
        if identity:
            x0, y0 = int(params["x0"]), int(params["y0"])
            img = img[y0 : y0 + size, x0 : x0 + size]
        else:
            img = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        out[i] = img
    out *= 1.0 / 255.0
    b, c, s = params["brightness"], params["contrast"], params["saturation"]
    if b != 1.0:
        out *= b
    if c != 1.0:
        grey_mean = float((out[0] @ np.array([0.299, 0.587, 0.114], np.float32)).mean())
        out = (out - grey_mean) * c + grey_mean
    if s != 1.0:
        grey = out @ np.array([0.299, 0.587, 0.114], np.float32)
        out = (out - grey[..., None]) * s + grey[..., None]
    if b != 1.0 or c != 1.0 or s != 1.0:
        np.clip(out, 0.0, 1.0, out=out)
    if mean is not None and std is not None:
        out = (out - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


# --------------------------------------------------------------------------- dataset
@dataclass(frozen=True)
class FeatureJob:
    """One sample's flow features (picklable: runs in feature worker processes too)."""

    row: dict
    spec: Any
    cache_root: str | None
    method: str
    normalize: str
    settings: dict
    reader: FrameReader

    def key_settings(self) -> dict | None:
        """Feature-cache settings: the run's, plus the row's face crop."""
        return {**self.settings, **self.reader.plan.feature_settings(self.row)} or None

    def compute(self) -> np.ndarray:
        from miex.features import FeatureCache, model_input

        cache = FeatureCache(self.cache_root) if self.cache_root else None
        return np.asarray(model_input(LazySample(self.row, self.reader), self.spec, flow_method=self.method,
                                      flow_normalize=self.normalize, cache=cache,
                                      cache_key=feature_key(self.row) if cache is not None else None,
                                      cache_settings=self.key_settings()), np.float32)

    def cached(self) -> np.ndarray | None:
        """The cached feature, or None (no frame is read either way)."""
        from miex.features import FeatureCache, model_input

        try:
            return np.asarray(model_input(_NoFrames(self.row, self.reader), self.spec, flow_method=self.method,
                                          flow_normalize=self.normalize, cache=FeatureCache(self.cache_root),
                                          cache_key=feature_key(self.row), cache_settings=self.key_settings()),
                              np.float32)
        except _Miss:
            return None


def _compute_feature(job: FeatureJob) -> np.ndarray:
    return job.compute()


class _Miss(Exception):
    """Raised by :class:`_NoFrames` when a feature is not cached."""


class _NoFrames(LazySample):
    def __getitem__(self, key: str) -> Any:
        if key in ("onset", "apex", "frames"):
            raise _Miss(key)
        return super().__getitem__(key)


class SampleDataset(Dataset):
    """``dataset[i] -> (input tensor, label, i)`` for the rows of ``samples``.

    Parameters
    ----------
    samples: a ``samples`` DataFrame of a miex dataset (or several concatenated); needs the
        columns of :data:`REQUIRED_COLUMNS`.
    spec: the model's ``input_spec``.
    train: augment (image kinds) with ``augment``; evaluation preprocessing otherwise.
    seed, stream: the augmentation streams (see the module docstring).
    feature_cache: a folder for the flow feature cache (None: no disk cache).
    flow_method, flow_normalize, feature_settings: passed to ``model_input``.
    preload: decode every frame once (resized to the load size) and keep it in memory.
    reader: how a row's frames are read (:class:`miex.preprocess.FrameReader`: whole frames or
        face crops from the crop cache; default whole frames).
    """

    def __init__(
        self,
        samples: pd.DataFrame,
        spec: Any,
        *,
        train: bool = False,
        augment: Augment = Augment(),
        seed: int = 0,
        stream: str = "",
        feature_cache: str | os.PathLike[str] | None = None,
        flow_method: str = "tvl1",
        flow_normalize: str = "minmax",
        feature_settings: Mapping[str, Any] | None = None,
        preload: bool = False,
        reader: FrameReader | None = None,
    ) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in samples.columns]
        if missing:
            raise MiexError(f"samples table lacks column(s) {', '.join(missing)}")
        keep = [c for c in (*REQUIRED_COLUMNS, "offset", "cropped") if c in samples.columns]
        self.rows: list[dict[str, Any]] = samples[keep].to_dict("records")
        self.labels = samples["label"].astype("int64").to_numpy()
        self.spec = spec
        self.train = bool(train)
        self.augment = augment
        self.seed = int(seed)
        self.stream = str(stream)
        self.feature_cache = str(feature_cache) if feature_cache else None
        self.flow_method = flow_method
        self.flow_normalize = flow_normalize
        self.feature_settings = dict(feature_settings or {})
        self.reader = reader or FrameReader()
        self.epoch = 0
        self.size = int(spec.size)
        # images are resized to the load size, then cropped to ``size`` (randomly when training)
        self.load_size = augment.load_size(self.size) if augment.enabled else self.size
        self._features: np.ndarray | None = None
        self._frames: list[list[np.ndarray]] | None = None
        if preload and spec.kind != "flow":
            self._frames = [[resize_square(f, self.load_size) for f in self._read(i)] for i in range(len(self.rows))]

    # ------------------------------------------------------------------ plumbing
    def __len__(self) -> int:
        return len(self.rows)

    @property
    def in_memory(self) -> bool:
        """True when items need no decoding (prepared flow features or preloaded frames of a
        kind without augmentation cost worth a worker process)."""
        return self._features is not None

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of ``epoch`` (call before iterating)."""
        self.epoch = int(epoch)

    def _job(self, index: int) -> FeatureJob:
        return FeatureJob(self.rows[index], self.spec, self.feature_cache, self.flow_method, self.flow_normalize,
                          self.feature_settings, self.reader)

    def prepare(self, workers: int = 0, progress: bool = False, memo: dict | None = None) -> tuple[int, int]:
        """Flow kind: read cached features, compute the missing ones (in ``workers`` processes
        when > 1) and keep all features in memory. ``memo`` (a dict shared by several datasets
        of one run) avoids re-reading the cache for every fold. Returns (cached, computed).
        A no-op (0, 0) for other kinds."""
        if self.spec.kind != "flow" or self._features is not None:
            return (0, 0)
        from tqdm import tqdm

        memo = memo if memo is not None else {}
        settings = (self.feature_cache, self.flow_method, self.flow_normalize, self.spec.size,
                    tuple(self.spec.channel_names), tuple(sorted(self.feature_settings.items())))
        keys = [(settings, row["subject"], row["clip"], int(row["onset"]), int(row["apex"]), frame_paths(row),
                 self.reader.plan.method(row)) for row in self.rows]
        jobs = {i: self._job(i) for i, k in enumerate(keys) if k not in memo}
        cached = 0
        if self.feature_cache:  # cache hits are read here, without decoding a frame
            for i in list(jobs):
                hit = jobs[i].cached()
                if hit is not None:
                    memo[keys[i]] = hit
                    cached += 1
                    del jobs[i]
        todo = list(jobs)
        show = progress and bool(todo)  # no empty bar when everything came from the cache
        if workers > 1 and len(todo) > 1:
            import concurrent.futures as cf
            import multiprocessing as mp

            # not "fork": a child forked after OpenCV/torch started their thread pools can deadlock
            method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
            with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context(method), initializer=_pool_init) as pool:
                it = pool.map(_compute_feature, [jobs[i] for i in todo], chunksize=max(1, len(todo) // (8 * workers)))
                results = list(tqdm(it, total=len(todo), desc="features", disable=not show, leave=False))
        else:
            results = [jobs[i].compute() for i in tqdm(todo, desc="features", disable=not show, leave=False)]
        for i, x in zip(todo, results):
            memo[keys[i]] = x
        if self.rows:
            self._features = np.stack([memo[k] for k in keys])
        else:
            self._features = np.zeros((0, *self.spec.shape(1)[1:]), np.float32)
        return cached, len(todo)

    def _read(self, index: int) -> list[np.ndarray]:
        row = self.rows[index]
        if self.spec.kind == "video":
            return self.reader.clip(row)
        onset, apex = self.reader.pair(row)
        if self.spec.kind == "apex":
            return [apex]
        return [onset, apex]

    def params(self, index: int) -> dict[str, float]:
        """The transform of sample ``index`` in the current epoch."""
        if self.train and self.augment.enabled:
            gen = rng(self.seed, "augment", self.stream, self.epoch, index)
            return draw_params(gen, self.load_size, self.size, self.augment)
        return center_params(self.load_size, self.size)

    def load(self, index: int) -> np.ndarray:
        """The model input of sample ``index`` (float32, no batch dimension)."""
        spec = self.spec
        if spec.kind == "flow":
            if self._features is not None:
                return self._features[index]
            return self._job(index).compute()
        frames = self._frames[index] if self._frames is not None else self._read(index)
        x = transform_frames(frames, self.params(index), self.load_size, self.size, spec.mean, spec.std)
        if spec.kind == "apex":
            return x[0]
        if spec.kind == "pair":
            return x
        from miex.features import resample_frames

        clip = resample_frames(x, int(spec.frames))  # (T, 3, S, S)
        return np.ascontiguousarray(clip.transpose(1, 0, 2, 3), dtype=np.float32)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        return torch.from_numpy(np.ascontiguousarray(self.load(index))), int(self.labels[index]), int(index)


# --------------------------------------------------------------------------- loaders
def worker_init(worker_id: int) -> None:  # noqa: ARG001 - DataLoader API
    """DataLoader worker setup: one torch thread per worker process.

    No seeding is needed: every random draw of :class:`SampleDataset` comes from a generator
    keyed by (seed, epoch, sample index). OpenCV's thread count is left alone: calling
    ``cv2.setNumThreads`` in a child forked after the parent used OpenCV's pool hangs."""
    torch.set_num_threads(1)


def _pool_init() -> None:
    """Feature worker processes (forkserver/spawn: fresh interpreters) use one thread each."""
    import cv2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def make_loader(
    dataset: SampleDataset,
    *,
    batch_size: int,
    train: bool,
    seed: int = 0,
    epoch: int = 0,
    workers: int = 0,
    rank: int = 0,
    world_size: int = 1,
    pin_memory: bool = False,
):
    """A DataLoader for ``epoch``: shuffled by a seeded ``DistributedSampler`` for training
    (one replica without DDP; batches of one sample are dropped, BatchNorm cannot train on
    them), sequential for evaluation (every rank sees every sample). Datasets held in memory
    (prepared flow features) are loaded in this process: worker processes would only add
    their start-up cost."""
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    dataset.set_epoch(epoch)
    if getattr(dataset, "in_memory", False):
        workers = 0
    sampler = None
    drop_last = False
    if train:
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=int(seed))
        sampler.set_epoch(epoch)
        drop_last = len(sampler) % batch_size == 1 and len(sampler) > 1
    generator = torch.Generator()
    generator.manual_seed(int(rng(seed, "loader", epoch).integers(2**62)))
    return DataLoader(
        dataset,  # type: ignore[arg-type]
        batch_size=int(batch_size),
        sampler=sampler,
        shuffle=False,
        num_workers=int(workers),
        worker_init_fn=worker_init if workers else None,
        generator=generator,
        drop_last=drop_last,
        pin_memory=pin_memory,
    )
