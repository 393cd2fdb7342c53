"""Warp renders with known AU vectors as a GANimation training set (for the CPU proof)."""

from __future__ import annotations

import numpy as np

from miex.au.space import N_AUS, au_index
from miex.seeding import rng

#: AUs the proof renders (strong, distinct geometric effects in the warp).
PROOF_AUS = ("AU01", "AU04", "AU12", "AU26")


def proof_faces():
    """The built-in real faces (astronaut, Grace Hopper and their mirrors), aligned 128 px crops."""
    from miex.faces import BuiltinFacePool

    pool = BuiltinFacePool(size=128, echo=False)
    return [pool.load(face_id) for face_id in pool.ids]


def draw_z(n: int, seed: int, key: str) -> np.ndarray:
    """(n, 17): every proof AU active with probability 0.5 at an intensity U[0, 1]."""
    gen = rng(seed, "ganimation-proof", key)
    z = np.zeros((n, N_AUS), dtype=np.float32)
    for name in PROOF_AUS:
        active = gen.random(n) < 0.5
        z[:, au_index(name)] = np.where(active, gen.uniform(0.0, 1.0, n), 0.0)
    return z


def render_set(faces, per_face: int, size: int, seed: int, key: str):
    """Warp renders of every face at ``per_face`` AU vectors, cut in the generator framing at ``size``."""
    import cv2

    from miex.faces.align import apply_alignment
    from miex.generators import create_generator
    from miex.generators.ganimation.crop import crop_transform

    warp = create_generator("warp")
    images, aus, names = [], [], []
    for f, face in enumerate(faces):
        zs = draw_z(per_face, seed, f"{key}-{f}")
        frames = warp.render_many(warp.prepare(face), zs)
        m = crop_transform(face.landmarks, 128)
        for k, (frame, z) in enumerate(zip(frames, zs)):
            crop = apply_alignment(frame, m, 128)
            images.append(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))
            aus.append(z)
            names.append(f"face{f}-{key}{k}")
    return np.stack(images), np.stack(aus), names


def _framed(face, frame: np.ndarray, size: int) -> np.ndarray:
    import cv2

    from miex.faces.align import apply_alignment
    from miex.generators.ganimation.crop import crop_transform

    crop = apply_alignment(frame, crop_transform(face.landmarks, 128), 128)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def neutral_crops(faces, size: int) -> np.ndarray:
    """(F, size, size, 3) uint8: each real face, unrendered, in the generator framing."""
    return np.stack([_framed(face, face.image, size) for face in faces])


def warp_differences(faces, size: int, neutral: np.ndarray) -> dict[str, np.ndarray]:
    """AU -> (F, size, size, 3) float: the warp's change for that AU at 1.0, per face."""
    from miex.generators import create_generator

    warp = create_generator("warp")
    out = {}
    for name in PROOF_AUS:
        z = np.zeros(N_AUS)
        z[au_index(name)] = 1.0
        frames = [_framed(face, warp.render(warp.prepare(face), z), size) for face in faces]
        out[name] = np.stack(frames).astype(np.float64) - neutral
    return out
