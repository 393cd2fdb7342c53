"""Rendering one chunk of identities into sample folders (runs in worker processes).

Each identity is aligned once, ``generator.prepare`` runs once, then all its samples are
rendered. A sample folder is written through :func:`miex.io.atomic_dir`: it appears complete
or not at all, so a killed run never leaves a partial sample that looks finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from miex.io import atomic_dir, atomic_path, write_new_file


@dataclass
class SampleTask:
    dir: str
    trajectory: np.ndarray          # (T, 17) float32 AU vectors, frame 0 = onset


@dataclass
class IdentityTask:
    pool_id: str
    samples: list[SampleTask] = field(default_factory=list)


@dataclass
class ChunkResult:
    samples: int = 0
    frames: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)   # (pool id, reason)


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buffer.tobytes()


def write_sample(out: Path, sample: SampleTask, jpegs: list[bytes], frames: list[np.ndarray] | None,
                 mp4_fps: float | None) -> None:
    """Write one sample folder atomically: ``0.jpg …`` (and ``clip.mp4`` when asked)."""
    with atomic_dir(out / sample.dir) as tmp:
        for index, data in enumerate(jpegs):
            write_new_file(tmp / f"{index}.jpg", data)
        if mp4_fps and frames is not None:
            write_mp4(tmp / "clip.mp4", frames, mp4_fps)


class FrameMemo:
    """Rendered and encoded frames of one identity, keyed by AU vector.

    Frames with the same AU vector are identical (for example the neutral onsets of the
    expert samples), so each is rendered and JPEG-encoded once per identity.
    """

    def __init__(self, generator, prepared, quality: int) -> None:
        self.generator = generator
        self.prepared = prepared
        self.quality = quality
        self.cache: dict[bytes, tuple[np.ndarray, bytes]] = {}

    def prefetch(self, zs) -> None:
        """Render every not-yet-cached AU vector of ``zs`` in one ``render_many`` call (batched
        for learned generators; the warp renders them one by one, with the same bytes)."""
        todo: dict[bytes, np.ndarray] = {}
        for z in zs:
            key = np.ascontiguousarray(z, dtype=np.float32).tobytes()
            if key not in self.cache and key not in todo:
                todo[key] = np.asarray(z, dtype=np.float32)
        if not todo:
            return
        frames = self.generator.render_many(self.prepared, np.stack(list(todo.values())))
        for key, frame in zip(todo, frames):
            self.cache[key] = (frame, encode_jpeg(frame, self.quality))

    def get(self, z: np.ndarray) -> tuple[np.ndarray, bytes]:
        key = np.ascontiguousarray(z, dtype=np.float32).tobytes()
        if key not in self.cache:
            frame = self.generator.render(self.prepared, z)
            self.cache[key] = (frame, encode_jpeg(frame, self.quality))
        return self.cache[key]


def write_mp4(path: Path, frames: list[np.ndarray], fps: float) -> None:
    height, width = frames[0].shape[:2]
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
        if not writer.isOpened():
            raise RuntimeError(f"{path}: OpenCV cannot write mp4 here")
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
