"""Fixtures for the MA2MI proof: macro-expression videos of some people, micro-expressions of others.

No fixture person appears on both sides:

- :func:`write_pretrain_videos` writes 640x480 macro-expression videos (neutral -> peak, slight head
  motion; :mod:`miex.testing.videos`) of people 7-14 of :func:`miex.testing.people.people` (LFW
  subset faces, distinct by dlib's face embedding) and of the two shipped photos (scikit-image's
  astronaut, matplotlib's Grace Hopper, plain and in variants: mirror, colour, gamma, rotation,
  blur);
- :func:`write_finetune_casme2` writes a CASME II-layout micro-expression fixture of people 1-6,
  recorded at 640x480 by :func:`miex.testing.people.recording_source` (class AU patterns at micro
  intensity, the face a part of the frame), so fine-tuning goes through ``miex train``'s face-crop
  stage as on real recordings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

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
#: CASME II emotions of the fine-tuning fixture (3-class: negative, positive, surprise)
MICRO_EMOTIONS = ("disgust", "happiness", "surprise")


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
    from miex.testing.frames import recolour

    mirror, colour, angle, blur = VARIANTS[variant]
    rgb = load_image(photo_path(name))
    if mirror:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
    rgb = recolour(rgb, colour)
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


def _person_file(folder: Path, person) -> Path:
    """An LFW fixture person's face on a grey 2x canvas (dlib needs context around the face)."""
    import cv2

    path = folder / f"lfw{person.index:03d}.png"
    if not path.is_file():
        side = person.image.shape[0]
        canvas = np.full((2 * side, 2 * side, 3), 128, np.uint8)
        canvas[side // 2:side // 2 + side, side // 2:side // 2 + side] = person.image
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    return path


#: the fixture people (indices into ``people(14)``) of each side
PRETRAIN_PEOPLE = tuple(range(6, 14))
FINETUNE_PEOPLE = 6


def write_pretrain_videos(
    folder: str | os.PathLike[str],
    *,
    lfw: Sequence[int] = PRETRAIN_PEOPLE,
    photos: Sequence[str] = ("grace_hopper", "astronaut"),
    variants: Sequence[str] = ("plain", "mirror"),
    emotions: Sequence[str] = MACRO_EMOTIONS,
    n_frames: int = 14,
    suffix: str = ".mp4",
    seed: int = 0,
) -> list[Path]:
    """One 640x480 macro-expression video per (source face, emotion) under ``folder``: the LFW
    fixture people ``lfw`` (indices into ``people(14)``; never the fine-tuning ones) and the
    shipped ``photos`` in ``variants``."""
    from miex.testing.people import people
    from miex.testing.videos import write_face_video

    folder = Path(folder)
    faces = folder / ".faces"
    if any(i < FINETUNE_PEOPLE for i in lfw):
        raise ValueError(f"people 0-{FINETUNE_PEOPLE - 1} are the fine-tuning subjects")
    cast = people(max(lfw) + 1) if lfw else ()
    sources = [(f"lfw{cast[i].index:03d}", _person_file(faces, cast[i])) for i in lfw]
    sources += [(f"{photo}_{v}", _variant_file(faces, photo, v)) for photo in photos for v in variants]
    out = []
    for name, source in sources:
        for emotion in emotions:
            path = folder / name / f"{emotion}{suffix}"
            if not path.is_file():
                gen = rng(seed, "macro", name, emotion)
                write_face_video(path, source, emotion, n_frames, seed=seed, intensity=float(gen.uniform(0.6, 1.0)))
            out.append(path)
    return out


def write_finetune_casme2(
    root: str | os.PathLike[str],
    *,
    subjects: int = FINETUNE_PEOPLE,
    clips_per_class: int = 3,
    n_frames: int = 5,
    seed: int = 0,
):
    """A CASME II fixture (``miex.testing.write_casme2_fixture``) of ``subjects`` different people
    (the first of ``people()``), 640x480 recordings, ``clips_per_class`` clips of each 3-class
    emotion (disgust, happiness, surprise); returns the Fixture."""
    from miex.testing import ClipSpec, write_casme2_fixture
    from miex.testing.people import recording_source

    if subjects > FINETUNE_PEOPLE:
        raise ValueError(f"at most {FINETUNE_PEOPLE} fine-tuning subjects (the others are pre-training people)")
    names = [f"sub{i + 1:02d}" for i in range(subjects)]
    specs = []
    for subject in names:
        for c, emotion in enumerate(MICRO_EMOTIONS):
            for j in range(clips_per_class):
                onset = 10 + 20 * (c * clips_per_class + j)
                specs.append(ClipSpec(subject, f"EP{c * clips_per_class + j + 1:02d}_0{c}f", emotion, onset,
                                      onset + (n_frames - 1) // 2, onset + n_frames - 1))
    source = recording_source([("casme2", s) for s in names], seed=seed)
    return write_casme2_fixture(root, specs, frame_source=source)


__all__ = ["FINETUNE_PEOPLE", "MACRO_EMOTIONS", "MICRO_EMOTIONS", "PRETRAIN_PEOPLE", "VARIANTS", "photo_path",
           "variant_image", "write_finetune_casme2", "write_pretrain_videos"]
