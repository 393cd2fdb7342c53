"""Fixtures for the MA2MI proof: macro-expression videos of one person, micro-expressions of another.

Only two real people ship offline (scikit-image's astronaut, matplotlib's Grace Hopper), so the
proof keeps them apart: :func:`write_pretrain_videos` writes 640x480 macro-expression videos of
one photo (default Grace Hopper) in several variants (mirror, colour, gamma, rotation, blur: other
"recordings" of the same person), and :func:`write_finetune_casme2` writes a CASME II-layout
micro-expression fixture of the *other* photo (default the astronaut), one variant per subject.

The micro clips are aligned face crops (``miex.faces.detect_face``, margin 0.1, like the MEB
crop) rendered by the warp generator with a class-specific AU pattern at micro intensity
(U[0.15, 0.3] per AU) plus a weak random distractor AU (<= 0.1), rising from neutral at the
onset to the apex and falling back:

- negative (disgust): AU4 + AU7; positive (happiness): AU6 + AU12; surprise: AU1 + AU2 + AU5.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from miex.au.space import z_from_mapping
from miex.seeding import rng

#: variant name -> (mirror, colour, rotation degrees, blur sigma)
VARIANTS: dict[str, tuple[bool, str, float, float]] = {
    "plain": (False, "none", 0.0, 0.0),
    "mirror": (True, "none", 0.0, 0.0),
    "warm": (False, "warm", 0.0, 0.0),
    "cool_mirror": (True, "cool", 0.0, 0.0),
    "gamma": (False, "gamma", 0.0, 0.0),
    "rot": (False, "none", 6.0, 0.0),
    "blur_mirror": (True, "none", 0.0, 1.2),
    "rot_warm": (False, "warm", -5.0, 0.0),
}
MACRO_EMOTIONS = ("happiness", "surprise", "sadness", "anger", "disgust", "fear")
MICRO_CLASSES = {"disgust": ("AU04", "AU07"), "happiness": ("AU06", "AU12"), "surprise": ("AU01", "AU02", "AU05")}
DISTRACTORS = ("AU14", "AU17", "AU10", "AU45", "AU25")
MICRO_INTENSITY = (0.15, 0.3)


def photo_path(name: str) -> Path:
    """The path of a shipped real photo by stem (``astronaut``, ``grace_hopper``)."""
    from miex.faces import builtin_face_paths

    paths = {p.stem: p for p in builtin_face_paths()}
    if name not in paths:
        raise FileNotFoundError(f"no shipped photo {name!r}; have {sorted(paths)}")
    return paths[name]


def variant_image(name: str, variant: str) -> np.ndarray:
    """The RGB photo ``name`` after the transforms of :data:`VARIANTS` ``[variant]``."""
    import cv2

    from miex.faces import load_image

    mirror, colour, angle, blur = VARIANTS[variant]
    rgb = load_image(photo_path(name))
    if mirror:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
    x = rgb.astype(np.float32) / 255.0
    if colour == "warm":
        x = x * np.array([1.08, 1.0, 0.88], np.float32)
    elif colour == "cool":
        x = x * np.array([0.9, 0.98, 1.1], np.float32)
    elif colour == "gamma":
        x = x ** 0.8
    rgb = np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if angle:
        h, w = rgb.shape[:2]
        rgb = cv2.warpAffine(rgb, cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0), (w, h),
                             borderMode=cv2.BORDER_REFLECT_101)
    if blur:
        rgb = cv2.GaussianBlur(rgb, (0, 0), blur)
    return rgb


def _variant_file(folder: Path, name: str, variant: str) -> Path:
    import cv2

    path = folder / f"{name}_{variant}.png"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(variant_image(name, variant), cv2.COLOR_RGB2BGR))
    return path


def write_pretrain_videos(
    folder: str | os.PathLike[str],
    *,
    photo: str = "grace_hopper",
    variants: Sequence[str] = tuple(VARIANTS),
    emotions: Sequence[str] = MACRO_EMOTIONS,
    n_frames: int = 14,
    suffix: str = ".mp4",
    seed: int = 0,
) -> list[Path]:
    """One 640x480 macro-expression video per (variant, emotion) of ``photo`` under ``folder``."""
    from miex.testing.videos import write_face_video

    folder = Path(folder)
    photos = folder / ".photos"
    out = []
    for variant in variants:
        source = _variant_file(photos, photo, variant)
        for emotion in emotions:
            path = folder / f"{photo}_{variant}" / f"{emotion}{suffix}"
            if not path.is_file():
                gen = rng(seed, "macro", variant, emotion)
                write_face_video(path, source, emotion, n_frames, seed=seed, intensity=float(gen.uniform(0.6, 1.0)))
            out.append(path)
    return out


def micro_frame_source(photo: str, subjects: dict[str, str], size: int, seed: int = 0):
    """A ``miex.testing`` frame source rendering :data:`MICRO_CLASSES` on ``photo``'s variants
    (``subjects``: local subject folder -> variant)."""
    from miex.faces import detect_face
    from miex.generators import create_generator
    from miex.testing.frames import motion_weights

    generator = create_generator("warp")
    prepared = {}
    for subject, variant in subjects.items():
        face = detect_face(variant_image(photo, variant), size=size)
        prepared[subject] = generator.prepare(dataclasses.replace(face))

    def source(info, n_frames: int) -> list[np.ndarray]:
        gen = rng(seed, "micro", info.subject, info.clip)
        apex = {au: float(gen.uniform(*MICRO_INTENSITY)) for au in MICRO_CLASSES[info.emotion]}
        distractor = DISTRACTORS[int(gen.integers(len(DISTRACTORS)))]
        apex[distractor] = apex.get(distractor, 0.0) + float(gen.uniform(0.0, 0.1))
        zs = motion_weights(n_frames, info.apex_index)[:, None] * z_from_mapping(apex)[None, :]
        return [np.ascontiguousarray(f, dtype=np.uint8) for f in generator.render_many(prepared[info.subject], zs)]

    return source


def write_finetune_casme2(
    root: str | os.PathLike[str],
    *,
    photo: str = "astronaut",
    variants: Sequence[str] = ("plain", "mirror", "warm", "cool_mirror", "gamma", "rot"),
    clips_per_class: int = 3,
    n_frames: int = 5,
    size: int = 96,
    seed: int = 0,
):
    """A CASME II fixture (``miex.testing.write_casme2_fixture``) of ``photo``: one subject per
    variant, ``clips_per_class`` clips of each 3-class emotion; returns the Fixture."""
    from miex.testing import ClipSpec, write_casme2_fixture

    subjects = {f"sub{i + 1:02d}": v for i, v in enumerate(variants)}
    specs = []
    for subject in subjects:
        for c, emotion in enumerate(MICRO_CLASSES):
            for j in range(clips_per_class):
                onset = 10 + 20 * (c * clips_per_class + j)
                specs.append(ClipSpec(subject, f"EP{c * clips_per_class + j + 1:02d}_0{c}f", emotion, onset,
                                      onset + (n_frames - 1) // 2, onset + n_frames - 1))
    return write_casme2_fixture(root, specs, frame_source=micro_frame_source(photo, subjects, size, seed))


__all__ = ["MACRO_EMOTIONS", "MICRO_CLASSES", "VARIANTS", "micro_frame_source", "photo_path", "variant_image",
           "write_finetune_casme2", "write_pretrain_videos"]
