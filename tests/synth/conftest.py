"""Face folders and pools for the synth tests, built from real photos shipped with packages."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from miex.au.pool import write_pool
from miex.au.space import AU_NAMES
from miex.au.sources import Clip, MiESource
from miex.faces import builtin_face_paths
from miex.seeding import rng


@pytest.fixture(scope="session", autouse=True)
def face_cache(tmp_path_factory):
    """One detection cache for the whole session, outside the user's home (subprocesses inherit it)."""
    cache = tmp_path_factory.mktemp("face-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MIEX_CACHE_DIR", str(cache))
        yield cache


@pytest.fixture(scope="session")
def face_folder(tmp_path_factory) -> Path:
    """Six usable photos (two real faces, mirrored, rescaled), one corrupt file, one image without a face."""
    root = tmp_path_factory.mktemp("faces")
    (root / "nested").mkdir()
    for path in builtin_face_paths():
        bgr = cv2.imread(str(path))
        cv2.imwrite(str(root / f"{path.stem}.jpg"), bgr)
        cv2.imwrite(str(root / f"{path.stem}_mirror.png"), bgr[:, ::-1])
        small = cv2.resize(bgr, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(root / "nested" / f"{path.stem}_small.jpg"), small)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    import skimage

    coffee = cv2.imread(str(Path(skimage.__file__).parent / "data" / "coffee.png"))
    cv2.imwrite(str(root / "coffee.png"), coffee)
    return root


def _clip(subject: str, name: str, label: int, generator: np.random.Generator) -> Clip:
    n = 12
    ramp = np.linspace(0.0, 1.0, n)[:, None]
    target = np.zeros(len(AU_NAMES))
    target[[0, 8, 2][label]] = generator.uniform(0.3, 0.6)
    aus = pd.DataFrame(ramp * target[None, :], columns=list(AU_NAMES))
    aus.insert(0, "frame", np.arange(100, 100 + n))
    return Clip(clip=name, subject=subject, label=label, aus=aus, dataset="casme2", onset=100, apex=100 + n - 1)


@pytest.fixture(scope="session")
def mie_pool(tmp_path_factory) -> Path:
    """A z^MiE pool from clips of four subjects (AU tables made here, not from licensed data)."""
    generator = rng(7, "mie-fixture")
    clips = [
        _clip(f"sub0{s}", f"EP0{s}_{label}", label, generator) for s in range(1, 5) for label in (0, 1, 2)
    ]
    pool = MiESource(clips, reuse=2).sample(8, rng(3, "mie-pool"))
    path = tmp_path_factory.mktemp("pools") / "mie.parquet"
    write_pool(pool, path)
    return path


@pytest.fixture()
def fold_file(tmp_path) -> Path:
    path = tmp_path / "folds.csv"
    path.write_text("subject,fold\ncasme2/sub01,0\ncasme2/sub02,0\ncasme2/sub03,1\ncasme2/sub04,1\n")
    return path


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes), the card excluded (it embeds the command)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in {"card.html", "config.json"}
    }

