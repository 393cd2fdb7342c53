"""The training set of ``miex generator train``: face crops in the generator framing + AU targets.

Faces: a folder of photos (recursive), a CelebA root (every image of ``img_align_celeba/``, not
one per identity) or ``builtin``. Detection and landmarks go through :mod:`miex.faces` (cached);
each face is cut as :mod:`miex.generators.ganimation.crop` describes.

AU targets, matched to images by file stem:

- a **folder of OpenFace CSVs** as ``FaceLandmarkImg -fdir IMAGES -aus -out_dir AUS`` writes them
  (``<image stem>.csv``; columns ``face, confidence, ... AU01_r ... AU45_r``); z = ``AUxx_r / 5``;
  the first face of the file above OpenFace's usual confidence cut (0.8) is used;
- a **miex AU table** (``.csv`` or ``.parquet``) with a column ``image`` (file name, stem or
  path relative to the face folder) and the 17 columns ``AU01 ... AU45`` as z in [0, 1].

Images without AUs, unreadable images and images without a usable face are counted skips
(:class:`miex.errors.SkipLog`, one summary). The crops are stored once in ``OUT/data/``
(``faces_<size>.npy``, memory-mapped, and ``index.parquet``) and reused when a run resumes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from miex.au.space import AU_NAMES, N_AUS
from miex.errors import InputError, MiexError, SkipLog
from miex.generators.ganimation.training import TrainingSet


def open_pool(spec: str, size: int = 128):
    """The face pool for ``--faces``: builtin, a CelebA root (all its images) or a folder."""
    from miex.faces import BuiltinFacePool, CelebAPool, FacePool
    from miex.synth.facepool import is_celeba

    if spec == "builtin":
        return BuiltinFacePool(size=size)
    root = Path(spec)
    if not root.exists():
        raise MiexError(f"{root}: face folder not found (a folder of photos, a CelebA root, or 'builtin')")
    if is_celeba(root):
        return FacePool(CelebAPool._images_dir(root), size=size)
    return FacePool(root, size=size)


def read_au_source(spec: str) -> dict[str, np.ndarray | str]:
    """``{key: z (17,)}`` from a miex AU table, or ``{stem: csv path}`` for a folder of OpenFace CSVs."""
    path = Path(spec)
    if path.is_dir():
        csvs = {p.stem: str(p) for p in sorted(path.rglob("*.csv"))}
        if not csvs:
            raise MiexError(f"{path}: no OpenFace CSV files (FaceLandmarkImg -aus output) found")
        return csvs
    if not path.is_file():
        raise MiexError(f"{path}: AU source not found (a folder of OpenFace CSVs or a miex AU table)")
    try:
        table = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad file
        raise MiexError(f"{path}: unreadable AU table ({str(exc).splitlines()[0][:120]})") from None
    missing = [c for c in ("image", *AU_NAMES) if c not in table.columns]
    if missing:
        raise MiexError(f"{path}: AU table lacks column(s) {', '.join(missing[:5])} (needs image, AU01 ... AU45)")
    values = table[list(AU_NAMES)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    out: dict[str, np.ndarray | str] = {}
    for key, z in zip(table["image"].astype(str), values):
        out[key] = z
    return out


def openface_z(csv_path: str) -> np.ndarray | None:
    """z of the first confident face in a FaceLandmarkImg CSV, or None when it has no usable row."""
    from miex.au.openface import read_openface_csv

    table = read_openface_csv(csv_path)
    if table.empty:
        return None
    return table[list(AU_NAMES)].to_numpy(np.float64)[0]


def lookup(source: dict, image: Path, root: Path | None) -> np.ndarray | str | None:
    keys = [image.name, image.stem]
    if root is not None:
        try:
            rel = image.relative_to(root)
            keys = [str(rel), str(rel.with_suffix("")), *keys]
        except ValueError:
            pass
    for key in keys:
        if key in source:
            return source[key]
    return None


def target_z(entry: np.ndarray | str | None, image: Path) -> np.ndarray:
    """A checked z vector for one image; :class:`InputError` when there is none."""
    if entry is None:
        raise InputError(image, "no AUs: no row in the AU source")
    z = openface_z(entry) if isinstance(entry, str) else np.asarray(entry, dtype=np.float64)
    if z is None:
        raise InputError(image, "no AUs: OpenFace found no confident face")
    if z.shape != (N_AUS,) or not np.all(np.isfinite(z)):
        raise InputError(image, "no AUs: missing or non-numeric AU values")
    if z.min() < 0 or z.max() > 1:
        raise InputError(image, "no AUs: values outside [0, 1] (a miex AU table holds z = AUxx_r / 5)")
    return z


def build_training_set(faces: str, aus: str, out: str | os.PathLike[str], size: int = 128, *,
                       workers: int = 1, progress: bool = True, skips: SkipLog | None = None) -> TrainingSet:
    """Detect, crop and label every usable face once; reuse ``OUT/data`` when it matches."""
    data = Path(out) / "data"
    meta = {"faces": faces, "aus": aus, "size": int(size)}
    if os.environ.get("RANK", "0") != "0":
        return wait_for(data, meta)
    existing = read_existing(data, meta)
    if existing is not None:
        return existing
    skips = skips if skips is not None else SkipLog()
    pool = open_pool(faces, size)
    source = read_au_source(aus)
    root = getattr(pool, "root", None)
    labelled: list[tuple[str, Path, np.ndarray]] = []
    for face_id in pool.ids:
        image = pool.path(face_id)
        try:
            labelled.append((face_id, image, target_z(lookup(source, image, root), image)))
        except InputError as exc:
            skips.add(exc.path, exc.reason)
    if workers > 1:
        pool.prefetch(workers=workers, progress=progress)
    return write_set(data, meta, pool, labelled, size, skips, progress)


def write_set(data: Path, meta: dict, pool, labelled, size: int, skips: SkipLog, progress: bool) -> TrainingSet:
    from tqdm import tqdm

    from miex.generators.ganimation.crop import generator_crop
    from miex.io import atomic_path, write_json, write_parquet

    data.mkdir(parents=True, exist_ok=True)
    crops, rows = [], []
    for face_id, image, z in tqdm(labelled, desc="faces", unit="img", disable=not progress):
        try:
            face = pool.load(face_id)
        except InputError as exc:
            skips.add(exc.path, exc.reason)
            continue
        crops.append(generator_crop(face, size).image)
        rows.append({"name": face_id, "path": str(image), **dict(zip(AU_NAMES, z))})
    if len(rows) < 2:
        raise MiexError(f"{meta['faces']}: only {len(rows)} usable labelled face(s); need at least 2 ({skips.summary()})")
    with atomic_path(data / f"faces_{size}.npy") as tmp:
        np.save(tmp, np.stack(crops))
    write_parquet(data / "index.parquet", pd.DataFrame(rows))
    write_json(data / "meta.json", {**meta, "images": len(rows), "skipped": len(skips)})
    return load_set(data, size)


def load_set(data: Path, size: int) -> TrainingSet:
    index = pd.read_parquet(data / "index.parquet")
    images = np.load(data / f"faces_{size}.npy", mmap_mode="r")
    return TrainingSet(images=images, aus=index[list(AU_NAMES)].to_numpy(np.float32), names=index["name"].tolist())


def read_existing(data: Path, meta: dict) -> TrainingSet | None:
    path = data / "meta.json"
    if not path.exists():
        return None
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if any(old.get(k) != v for k, v in meta.items()):
        raise MiexError(f"{data} was built from other faces/AUs ({old.get('faces')}, {old.get('aus')}); use another --out")
    return load_set(data, meta["size"])


def wait_for(data: Path, meta: dict, timeout: float = 24 * 3600) -> TrainingSet:
    """Non-zero ranks wait for rank 0 to build the set."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        existing = read_existing(data, meta)
        if existing is not None:
            return existing
        time.sleep(0.5)
    raise MiexError(f"{data}: rank 0 did not finish building the training set")
