"""Face videos for tests and benchmarks: real photos animated by the warp generator, as video files.

:func:`write_face_video` renders a macro-expression (neutral -> peak -> hold) on the aligned face
of a real photo with miex's warp generator, pastes every rendered crop back into the photo
(inverse alignment, feathered mask), and places the photo in a ``640 x 480`` frame with a slow,
slight head motion (a few pixels of drift and under a degree of rotation), so the face is only a
part of the frame, as in a real recording. :func:`write_noface_video` writes a clip of moving
colour gradients without any face. Both write with ``cv2.VideoWriter`` (``mp4v`` for ``.mp4``,
``MJPG`` for ``.avi``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from miex.au.space import z_from_mapping
from miex.seeding import rng
from miex.testing.frames import EMOTION_AUS

#: frame size of the videos (width, height)
VIDEO_SIZE = (640, 480)
#: rendered crop size (the face is pasted back at the photo's own scale)
RENDER_SIZE = 256


def macro_zs(emotion: str, n_frames: int, *, intensity: float = 0.8, rise: float = 0.6) -> np.ndarray:
    """(n_frames, 17) AU vectors of a macro-expression: neutral at frame 0, the emotion's AUs
    (:data:`miex.testing.frames.EMOTION_AUS`) rising linearly to ``intensity`` over the first
    ``rise`` of the clip, then held (CK+-like: neutral to peak)."""
    z = z_from_mapping({au: intensity for au in EMOTION_AUS[emotion]})
    peak = max(1, int(round(rise * (n_frames - 1))))
    w = np.minimum(np.arange(n_frames) / peak, 1.0)
    return w[:, None] * z[None, :]


def _fourcc(path: Path) -> int:
    import cv2

    return cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))


def _write(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    # libav reads its log level once, at the first video use in a process: keep it quiet for the
    # broken files that tests decode later (miex.datasets.videos.read_video sets the same)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2

    from miex.io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    with atomic_path(path) as tmp:  # the temporary name keeps the suffix (the container)
        writer = cv2.VideoWriter(str(tmp), _fourcc(path), float(fps), (w, h))
        if not writer.isOpened():
            raise RuntimeError(f"cv2.VideoWriter cannot write {path}")
        for rgb in frames:
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        writer.release()
    return path


@functools.lru_cache(maxsize=8)
def _prepared(photo_path: str, mirror: bool):
    from miex.faces import detect_face, load_image
    from miex.generators import create_generator

    rgb = load_image(photo_path)
    if mirror:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
    face = detect_face(rgb, size=RENDER_SIZE)
    generator = create_generator("warp")
    return rgb, face, generator, generator.prepare(face)


def _feather(size: int, border: float = 0.12) -> np.ndarray:
    """A (size, size) float mask: 1 inside, falling smoothly to 0 over ``border`` of the side."""
    ramp = np.clip(np.minimum(np.arange(size), np.arange(size)[::-1]) / (border * size), 0.0, 1.0)
    return np.outer(ramp, ramp).astype(np.float32)


def render_video_frames(
    photo_path: str | os.PathLike[str],
    zs: np.ndarray,
    *,
    mirror: bool = False,
    seed: int = 0,
    frame_size: tuple[int, int] = VIDEO_SIZE,
    face_scale: float = 0.75,
    drift: float = 3.0,
    tilt: float = 0.8,
) -> list[np.ndarray]:
    """RGB frames ``(H, W, 3)`` of the photo's face moving through ``zs`` (n, 17), the photo
    scaled by ``face_scale`` and placed in a grey ``frame_size`` frame with a seeded slow drift
    of up to ``drift`` pixels and ``tilt`` degrees."""
    import cv2

    rgb, face, generator, prepared = _prepared(str(photo_path), bool(mirror))
    h, w = rgb.shape[:2]
    inv = cv2.invertAffineTransform(face.transform)
    mask = cv2.warpAffine(_feather(RENDER_SIZE), inv, (w, h))[..., None]
    crops = generator.render_many(prepared, np.asarray(zs, dtype=np.float64))
    gen = rng(seed, "video-motion", Path(photo_path).name, int(mirror))  # not the folder: reproducible anywhere
    phase = gen.uniform(0, 2 * np.pi, size=3)
    fw, fh = frame_size
    n = len(crops)
    out = []
    for i, crop in enumerate(crops):
        pasted = cv2.warpAffine(np.ascontiguousarray(crop), inv, (w, h), borderMode=cv2.BORDER_REPLICATE)
        photo = (mask * pasted + (1.0 - mask) * rgb).astype(np.uint8)
        s = np.sin(2 * np.pi * i / max(n, 8) + phase)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(tilt * s[2]), face_scale)
        m[0, 2] += (fw - w) / 2 + drift * s[0]
        m[1, 2] += (fh - h) / 2 + drift * s[1]
        out.append(cv2.warpAffine(photo, m, (fw, fh), borderMode=cv2.BORDER_CONSTANT, borderValue=(118, 118, 118)))
    return out


def write_face_video(
    path: str | os.PathLike[str],
    photo_path: str | os.PathLike[str],
    emotion: str = "happiness",
    n_frames: int = 16,
    *,
    fps: float = 25.0,
    mirror: bool = False,
    seed: int = 0,
    intensity: float = 0.8,
) -> Path:
    """Write a macro-expression video (:func:`macro_zs`) of the face in ``photo_path``."""
    frames = render_video_frames(photo_path, macro_zs(emotion, n_frames, intensity=intensity), mirror=mirror, seed=seed)
    return _write(Path(path), frames, fps)


def write_noface_video(path: str | os.PathLike[str], n_frames: int = 12, *, fps: float = 25.0, seed: int = 0) -> Path:
    """Write a video of moving colour gradients (no face anywhere)."""
    fw, fh = VIDEO_SIZE
    yy, xx = np.mgrid[0:fh, 0:fw].astype(np.float32)
    base = rng(seed, "noface").uniform(0, 255, size=3)
    frames = []
    for i in range(n_frames):
        r = 127 + 100 * np.sin(xx / 60.0 + i / 3.0)
        g = 127 + 100 * np.cos(yy / 45.0 - i / 4.0)
        b = np.full_like(r, base[2])
        frames.append(np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8))
    return _write(Path(path), frames, fps)


__all__ = ["VIDEO_SIZE", "macro_zs", "render_video_frames", "write_face_video", "write_noface_video"]
