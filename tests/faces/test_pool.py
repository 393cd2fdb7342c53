from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from miex.errors import InputError, MiexError
from miex.faces import BuiltinFacePool, CelebAPool, FacePool, builtin_face_paths, default_cache_dir, load_image
from miex.faces.align import similarity_from_points
from miex.faces.pool import ids_for_paths, safe_id


@pytest.fixture(scope="module")
def folder(tmp_path_factory, astronaut_path, grace_path, coffee_path) -> Path:
    root = tmp_path_factory.mktemp("pool")
    shutil.copy(astronaut_path, root / "astronaut.png")
    shutil.copy(grace_path, root / "grace_hopper.jpg")
    nested = root / "people" / "nested"
    nested.mkdir(parents=True)
    Image.fromarray(load_image(grace_path)[:, ::-1]).save(nested / "Grace Mirror.BMP")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    shutil.copy(coffee_path, root / "coffee.png")
    shutil.copy(astronaut_path, root / ".hidden.png")  # hidden: ignored
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


EXPECTED_IDS = ["astronaut", "broken", "coffee", "grace_hopper", "people-nested-Grace-Mirror"]


@pytest.fixture(scope="module")
def first_run(folder, cache):
    pool = FacePool(folder, cache_dir=cache)
    faces = dict(pool.iter_faces(progress=False))
    return pool, faces


def test_ids_are_sorted_safe_and_recursive(first_run, folder):
    pool, _ = first_run
    assert pool.ids == EXPECTED_IDS and len(pool) == 5
    assert pool.path("people-nested-Grace-Mirror") == folder / "people" / "nested" / "Grace Mirror.BMP"
    assert all(safe_id(i) == i for i in pool.ids)
    assert list(pool.table()["face_id"]) == EXPECTED_IDS


def test_good_faces_loaded_and_bad_ones_skipped_with_reasons(first_run, folder):
    pool, faces = first_run
    assert sorted(faces) == ["astronaut", "grace_hopper", "people-nested-Grace-Mirror"]
    for face in faces.values():
        assert face.image.shape == (128, 128, 3) and face.landmarks.shape == (68, 2)
    assert faces["grace_hopper"].source == str(folder / "grace_hopper.jpg")
    assert pool.skips.counts() == {"unreadable image": 1, "no face found": 1}
    skipped = dict(pool.skips.items)
    assert str(folder / "broken.jpg") in skipped and str(folder / "coffee.png") in skipped
    # the astronaut has a second (false) detection: kept the largest, and said so
    assert [p for p, _ in pool.notes.items] == [str(folder / "astronaut.png")]
    assert "kept the largest of 2" in pool.notes.items[0][1]
    summary = pool.summary()
    assert "2 input(s)" in summary and "1 with several faces" in summary


def test_summary_is_printed_once_without_traceback(folder, cache, capsys):
    pool = FacePool(folder, cache_dir=cache)
    list(pool.iter_faces(progress=False))
    err = capsys.readouterr().err
    assert err.count("miex: skipped") == 2 and err.count("landmark cache") == 1
    assert "Traceback" not in err


def test_second_pool_uses_the_cache(first_run, folder, cache):
    pool1, faces1 = first_run
    assert pool1.cache_misses >= 4 and pool1.detector.calls >= 4
    files = sorted(cache.glob("*.json"))
    assert len(files) == 4  # 3 faces + 1 "no face"; unreadable files are not cached
    assert not list(cache.glob(".*tmp*"))  # atomic writes left nothing behind
    outcomes = sorted(json.loads(f.read_text())["outcome"] for f in files)
    assert outcomes == ["face", "face", "face", "no face"]

    pool2 = FacePool(folder, cache_dir=cache)
    faces2 = dict(pool2.iter_faces(progress=False))
    assert pool2.detector.calls == 0 and pool2.cache_misses == 0 and pool2.cache_hits == 4
    assert sorted(faces2) == sorted(faces1)
    for k in faces1:
        np.testing.assert_array_equal(faces1[k].image, faces2[k].image)
        np.testing.assert_array_equal(faces1[k].landmarks, faces2[k].landmarks)
        assert faces1[k].n_faces == faces2[k].n_faces and faces1[k].box == faces2[k].box

    # a different crop size re-uses the same detections
    pool3 = FacePool(folder, cache_dir=cache, size=64)
    assert pool3.load("grace_hopper").image.shape == (64, 64, 3) and pool3.detector.calls == 0


def test_cache_follows_file_content(tmp_path, grace_path, cache):
    root = tmp_path / "faces"
    root.mkdir()
    target = root / "g.jpg"
    shutil.copy(grace_path, target)
    FacePool(root, cache_dir=cache).load("g")
    # touching or copying the same bytes elsewhere reuses the detection
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    shutil.copy(target, root / "copy.jpg")
    pool = FacePool(root, cache_dir=cache)
    pool.load("g")
    pool.load("copy")
    assert pool.detector.calls == 0 and pool.cache_hits == 2
    # different bytes are detected again
    image = load_image(target)
    cv2.imwrite(str(target), cv2.cvtColor(image[:, :-8], cv2.COLOR_RGB2BGR))
    pool = FacePool(root, cache_dir=cache)
    pool.load("g")
    assert pool.cache_misses == 1 and pool.detector.calls == 1


def test_load_errors(first_run, folder):
    pool, _ = first_run
    with pytest.raises(InputError, match="unreadable image") as info:
        pool.load("broken")
    assert info.value.path == str(folder / "broken.jpg")
    with pytest.raises(InputError, match="no face found"):
        pool.load("coffee")
    with pytest.raises(MiexError, match="unknown face id"):
        pool.load("nobody")


def test_multi_face_skip_policy(folder, cache):
    pool = FacePool(folder, cache_dir=cache, multi_face="skip", echo=False)
    with pytest.raises(InputError, match="multiple faces: 2 found"):
        pool.load("astronaut")


def test_bad_roots(tmp_path):
    with pytest.raises(MiexError, match="face folder not found"):
        FacePool(tmp_path / "missing")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(MiexError, match="no images"):
        FacePool(tmp_path)


def test_default_cache_dir(monkeypatch, tmp_path, folder):
    monkeypatch.setenv("MIEX_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" / "faces"
    assert FacePool(folder).cache_dir == tmp_path / "c" / "faces"
    monkeypatch.delenv("MIEX_CACHE_DIR")
    assert default_cache_dir().parts[-2:] == ("miex", "faces")
    assert FacePool(folder, cache_dir=False).cache_dir is None


def test_id_collisions_are_resolved(tmp_path):
    names = ["x.jpg", "x.png", "a/b.png", "a-b.png", "sp ace/é.jpg", "z.JPG"]
    paths = [tmp_path / n for n in names]
    ids = ids_for_paths(tmp_path, paths)
    assert len(ids) == len(names) and sorted(ids.values()) == sorted(paths)
    assert ids["x-jpg"] == tmp_path / "x.jpg" and ids["x-png"] == tmp_path / "x.png"
    assert ids["z"] == tmp_path / "z.JPG"
    assert all(safe_id(i) == i for i in ids)
    assert ids_for_paths(tmp_path, list(reversed(paths))) == ids  # order-independent


def test_builtin_faces_and_mirrors(cache, detector):
    paths = builtin_face_paths()
    assert [p.name for p in paths] == ["astronaut.png", "grace_hopper.jpg"]
    pool = BuiltinFacePool(cache_dir=cache)
    assert pool.ids == ["astronaut", "astronaut-mirror", "grace_hopper", "grace_hopper-mirror"]
    assert BuiltinFacePool(mirrors=False, cache_dir=cache).ids == ["astronaut", "grace_hopper"]
    orig, mirror = pool.load("grace_hopper"), pool.load("grace_hopper-mirror")
    assert mirror.source.endswith("grace_hopper.jpg#mirror") and pool.is_mirror("grace_hopper-mirror")
    assert pool.path("grace_hopper-mirror") == paths[1]
    # the mirror crop is close to the flipped original crop, far from the unflipped one
    flipped = orig.image[:, ::-1].astype(int)
    assert np.abs(mirror.image.astype(int) - flipped).mean() < 0.5 * np.abs(mirror.image.astype(int) - orig.image).mean()
    # same person (dlib distance < 0.6)
    d = np.linalg.norm(detector.embedding(orig.image, orig.landmarks) - detector.embedding(mirror.image, mirror.landmarks))
    assert d < 0.6


# ---- CelebA -------------------------------------------------------------------------------

def _celeba_crop(rgb, det, shift=(0.0, 0.0), zoom=1.0):
    box = det.detect(rgb)[0]
    pts = det.landmarks(rgb, box)
    eyes = pts[36:42].mean(0), pts[42:48].mean(0)
    c, half = np.array([88.5 + shift[0], 111.0 + shift[1]]), 19.5 * zoom
    m = similarity_from_points(eyes, (c - [half, 0], c + [half, 0]))
    return cv2.warpAffine(rgb, m, (178, 218), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def celeba_root(tmp_path_factory, astronaut_rgb, grace_path, coffee_path, detector) -> Path:
    root = tmp_path_factory.mktemp("celeba")
    img_dir = root / "img_align_celeba"
    img_dir.mkdir()
    grace = load_image(grace_path)
    coffee = cv2.resize(load_image(coffee_path), (178, 218))
    files = {
        "000001.jpg": _celeba_crop(astronaut_rgb, detector),
        "000002.jpg": _celeba_crop(grace, detector),
        "000003.jpg": _celeba_crop(astronaut_rgb, detector, shift=(3, -2), zoom=1.05),
        "000004.jpg": coffee,  # identity 7's first file has no face ...
        "000005.jpg": _celeba_crop(grace, detector, shift=(-2, 2), zoom=0.95),  # ... its second has
        "000006.jpg": coffee,  # identity 9: no face at all
    }
    for name, img in files.items():
        Image.fromarray(img).save(img_dir / name, quality=92)
    (root / "identity_CelebA.txt").write_text(
        "000001.jpg 10\n000002.jpg 2\n000003.jpg 10\n000004.jpg 7\n000005.jpg 7\n000006.jpg 9\n"
        "000099.jpg 11\nbroken line\n"
    )
    return root


def test_celeba_pool(celeba_root, cache):
    pool = CelebAPool(celeba_root, cache_dir=cache, echo=False)
    assert pool.ids == ["celeba2", "celeba7", "celeba9", "celeba10"]  # identity order; 11 has no file
    assert pool.path("celeba10").name == "000001.jpg"  # first file of the identity
    assert pool.path("celeba2").name == "000002.jpg"
    faces = dict(pool.iter_faces(progress=False))
    assert sorted(faces) == ["celeba10", "celeba2", "celeba7"]
    assert Path(faces["celeba7"].source).name == "000005.jpg"  # fell back to the second file
    assert Path(faces["celeba10"].source).name == "000001.jpg"
    counts = pool.skips.counts()
    assert counts.get("no face found") == 1 and any("malformed identity line" in r for _, r in pool.skips.items)
    for face in faces.values():
        assert face.image.shape == (128, 128, 3)


def test_celeba_kaggle_layout(celeba_root, tmp_path, cache):
    root = tmp_path / "kaggle"
    (root / "img_align_celeba").mkdir(parents=True)
    shutil.copytree(celeba_root / "img_align_celeba", root / "img_align_celeba" / "img_align_celeba")
    (root / "Anno").mkdir()
    shutil.copy(celeba_root / "identity_CelebA.txt", root / "Anno" / "identity_CelebA.txt")
    pool = CelebAPool(root, cache_dir=cache, echo=False)
    assert pool.ids == ["celeba2", "celeba7", "celeba9", "celeba10"]
    with pytest.raises(MiexError, match="identity_CelebA.txt not found"):
        (root / "Anno" / "identity_CelebA.txt").unlink()
        CelebAPool(root, cache_dir=cache)


def test_prefetch_fills_the_cache_in_worker_processes(tmp_path, astronaut_rgb, grace_path):
    root, cache = tmp_path / "faces", tmp_path / "c"
    (root / "sub").mkdir(parents=True)
    Image.fromarray(cv2.resize(astronaut_rgb, (256, 256), interpolation=cv2.INTER_AREA)).save(root / "a.png")
    Image.fromarray(cv2.resize(load_image(grace_path), (256, 300), interpolation=cv2.INTER_AREA)).save(root / "sub" / "g.jpg")
    (root / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    pool = FacePool(root, cache_dir=cache, echo=False)
    assert pool.prefetch(workers=2, progress=False) == 2  # the unreadable file is left for iter_faces
    assert pool.prefetch(workers=2, progress=False) == 0  # nothing left to do
    assert pool.detector.calls == 0  # the work was done in the worker processes
    again = FacePool(root, cache_dir=cache, echo=False)
    faces = dict(again.iter_faces(progress=False))
    assert sorted(faces) == ["a", "sub-g"]
    assert again.detector.calls == 0 and again.cache_hits == 2
    assert again.skips.counts() == {"unreadable image": 1}


def test_check_agrees_with_load_without_decoding(first_run, folder, cache, monkeypatch):
    first_pool, _ = first_run
    pool = FacePool(folder, cache_dir=cache)
    outcomes = {}
    for face_id in pool.ids:
        try:
            first_pool.load(face_id)
            outcomes[face_id] = None
        except InputError as exc:
            outcomes[face_id] = exc.reason
    import miex.faces.pool as pool_module

    decoded = []
    monkeypatch.setattr(pool_module, "load_image", lambda path: decoded.append(path) or load_image(path))
    checked = {}
    for face_id in pool.ids:
        try:
            pool.check(face_id)
            checked[face_id] = None
        except InputError as exc:
            checked[face_id] = exc.reason
    assert checked == outcomes
    assert pool.detector.calls == 0
    # only the file that was never cached (unreadable) is opened again
    assert [Path(p).name for p in decoded] == ["broken.jpg"]
