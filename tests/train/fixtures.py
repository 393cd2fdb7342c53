"""A learnable micro-expression fixture in the real dataset layouts.

Subjects are eight *different* real people (:mod:`miex.testing.people`: faces of scikit-image's
LFW subset, de-duplicated by dlib's face embedding), recorded at 640x480 with the face a part of
the frame at a per-person position and scale, drifting by about a pixel over each clip. Clips are
rendered by miex's warp generator with a class-specific AU pattern at micro-expression intensity
(each AU drawn in [0.15, 0.3]; design.md uses U[0.1, 0.3] for MiE-X), plus a weak random
distractor AU (<= 0.1):

- negative: AU4 + AU7 (brow lowerer, lid tightener)
- positive: AU6 + AU12 (cheek raiser, lip-corner puller)
- surprise: AU1 + AU2 + AU5 (brow raisers, upper-lid raiser)

Frames rise linearly from neutral (onset) to the apex and fall back (short clips). The trees
are written by ``miex.testing.write_megc_composite_fixture`` with a custom official list, so
the real CASME II / SAMM / SMIC-HS loaders and the MEGC2019 composite read them, and training
goes through the face-crop stage as it does on real recordings.

The MiE-X set for direct deployment is made by ``miex synth`` (expert AUs) from *other* people:
the two real photos that ship offline (scikit-image's astronaut, matplotlib's Grace Hopper),
rotated, blurred and colour-shifted. No test subject's face is ever a training face.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from miex.testing.frames import recolour


#: The composite subjects of the fixture: each is a different person.
SUBJECTS: tuple[tuple[str, str], ...] = (
    ("casme2", "sub01"), ("casme2", "sub02"), ("casme2", "sub03"),
    ("samm", "006"), ("samm", "007"), ("samm", "009"),
    ("smic", "s1"), ("smic", "s2"),
)


def photo(name: str) -> np.ndarray:
    from miex.faces import builtin_face_paths

    paths = {p.stem: p for p in builtin_face_paths()}
    bgr = cv2.imread(str(paths[name]))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def frame_source(size: int, seed: int = 0):
    """A ``miex.testing`` frame source: 640x480 recordings of a different real person per
    composite subject (:mod:`miex.testing.people`), the class patterns of :data:`miex.testing.people.CLASS_AUS`.
    ``size`` is unused (kept for callers): the frames have the datasets' real size."""
    from miex.testing.people import recording_source

    return recording_source(list(SUBJECTS), seed=seed)


def official_list(clips_per_class: int) -> str:
    """A MEGC2019-format list (no header, CRLF) over the subjects of :data:`SUBJECTS`."""
    lines = []
    codes = {0: "ne", 1: "po", 2: "sur"}
    for (dataset, subject) in SUBJECTS:
        for label in (0, 1, 2):
            for i in range(clips_per_class):
                n = label * clips_per_class + i + 1
                if dataset == "casme2":
                    lines.append(f"casme2,{subject},EP{n:02d}_0{label}f,{label}")
                elif dataset == "samm":
                    lines.append(f"samm,{int(subject)},{subject}_{label + 1}_{i + 1},{label}")
                else:
                    num = int(subject[1:])
                    lines.append(f"smic,s{num:02d},s{num:02d}_{codes[label]}_{i + 1:02d},{label}")
    return "\r\n".join(lines) + "\r\n"


def write_proof_composite(root: Path, *, size: int = 96, clips_per_class: int = 3, n_frames: int = 5,
                          seed: int = 0) -> dict[str, str]:
    """Write the fixture; returns the roots and the list path (``[data]`` roots / options)."""
    from miex.testing import write_megc_composite_fixture

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    list_path = root / "official_list.csv"
    list_path.write_bytes(official_list(clips_per_class).encode("ascii"))
    roots = write_megc_composite_fixture(root, frame_source=frame_source(size, seed), n_frames=n_frames,
                                         list_path=list_path)
    return {**{k: str(v) for k, v in roots.items()}, "list_path": str(list_path)}


def write_other_faces(folder: Path) -> Path:
    """Face photos for ``miex synth``: rotated, blurred, colour-shifted versions of the two photos."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("astronaut", "grace_hopper"):
        img = photo(name)
        h, w = img.shape[:2]
        rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), 7.0, 1.0), (w, h),
                             borderMode=cv2.BORDER_REFLECT_101)
        variants = {
            "rot": rot,
            "cool_mirror": recolour(np.ascontiguousarray(img[:, ::-1]), "cool"),
            "blur": cv2.GaussianBlur(img, (0, 0), 1.5),
        }
        for tag, rgb in variants.items():
            cv2.imwrite(str(folder / f"{name}_{tag}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return folder


def write_synthetic_set(out: Path, faces: Path, *, ids: int = 48, size: int = 96, seed: int = 0) -> Path:
    """A MiE-X set (expert AUs, 2 frames) made by ``miex synth`` from ``faces`` (reused ids)."""
    from miex.synth.config import SynthConfig
    from miex.synth.runner import run_synth

    run_synth(SynthConfig(faces=str(faces), out=str(out), ids=ids, sources=("expert",), size=size, seed=seed,
                          allow_reuse=True), progress=False)
    return Path(out)
