"""Face crops of real-layout clips: MiE-X box crops and MEB eye alignment, one transform per clip,
the on-disk cache, and clips without a face."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from miex.datasets import list_frames, load_dataset
from miex.datasets.crops import (
    CROP_INDEX_COLUMNS,
    crop_clip,
    crop_clip_info,
    crop_dataset,
    default_crop_cache_dir,
    load_crops,
)
from miex.errors import InputError, MiexError, SkipLog
from miex.faces import FaceDetector, apply_alignment, canonical_eyes, eye_centres, load_image
from miex.testing import ClipSpec, has_warp_generator, warp_frames, write_casme2_fixture

FACE = 96  # side of the rendered face inside the larger frame
HEIGHT, WIDTH = 200, 260
#: Where each subject's face sits in its frames (x, y): off-centre, and not the same for all.
POSITIONS = {"sub01": (140, 20), "sub02": (15, 90)}
NO_FACE = "EP07_01"
CLIPS = (
    ClipSpec("sub01", "EP02_01f", "happiness", 8, 10, 12, "12"),
    ClipSpec("sub02", "EP03_02f", "surprise", 20, 22, 24, "1+2"),
    ClipSpec("sub04", NO_FACE, "disgust", 5, 6, 7, "9"),  # frames without a face
)


def canvas_source():
    """Warp-generator frames of the astronaut (known AU motion) placed off-centre in a larger
    grey frame, like a raw dataset frame; the ``NO_FACE`` clip gets plain grey frames."""
    warp = warp_frames(FACE)

    def source(info, n):
        if info.clip == NO_FACE:
            return [np.full((HEIGHT, WIDTH, 3), 120, np.uint8) for _ in range(n)]
        x, y = POSITIONS.get(info.subject, (80, 50))
        out = []
        for frame in warp(info, n):
            canvas = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
            canvas[y : y + FACE, x : x + FACE] = frame
            out.append(canvas)
        return out

    return source


@pytest.fixture(scope="session")
def crop_tree(tmp_path_factory) -> Path:
    if not has_warp_generator(FACE):
        pytest.skip("the warp generator is not available")
    root = tmp_path_factory.mktemp("crops") / "casme2"
    write_casme2_fixture(root, CLIPS, frame_source=canvas_source())
    return root


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    return FaceDetector()


def _clip_dir(root: Path, subject: str, clip: str) -> Path:
    return root / "CASME2_RAW_selected" / subject / clip


@pytest.mark.parametrize("method", ["mie-x", "meb"])
def test_crops_are_centred_and_share_one_transform(crop_tree, detector, tmp_path, method):
    for subject, clip in (("sub01", "EP02_01f"), ("sub02", "EP03_02f")):
        folder = _clip_dir(crop_tree, subject, clip)
        paths = list_frames(folder)
        info = crop_clip_info(folder, method, 128, detector=detector, cache_dir=tmp_path)
        crops = info.crops
        assert crops.shape == (len(paths), 128, 128, 3) and crops.dtype == np.uint8
        assert info.reference == paths[0]  # the onset, first frame of the folder

        # the face is found again in the crop, centred and filling it
        boxes = detector.detect(crops[0])
        assert boxes, f"no face re-detected in the {method} crop of {clip}"
        left, top, right, bottom = boxes[0]
        assert abs((left + right) / 2 - 64) < 0.1 * 128
        assert abs((top + bottom) / 2 - 64) < 0.12 * 128
        assert 0.4 * 128 < right - left < 0.95 * 128
        if method == "meb":  # eye centres at the canonical positions of miex.faces.align
            pts = detector.landmarks(crops[0], boxes[0])
            for got, want in zip(eye_centres(pts), canonical_eyes(128, 0.1)):
                assert np.abs(got - want).max() < 0.04 * 128

        # one transform for the whole clip: every crop is that transform applied to its frame
        for path, crop in zip(paths, crops):
            assert np.array_equal(crop, apply_alignment(load_image(path), info.transform, 128))
        # the subtle expression survives: the apex crop differs from the onset crop, a little
        diff = np.abs(crops[2].astype(int) - crops[0].astype(int)).mean()
        assert 0 < diff < 12


def test_methods_differ_and_arrays_match_paths(crop_tree, detector, tmp_path):
    folder = _clip_dir(crop_tree, "sub01", "EP02_01f")
    mie = crop_clip(folder, "mie-x", 64, detector=detector, cache_dir=tmp_path)
    meb = crop_clip(folder, "meb", 64, detector=detector, cache_dir=tmp_path)
    assert mie.shape == meb.shape == (5, 64, 64, 3)
    assert not np.array_equal(mie, meb)
    arrays = np.stack([load_image(p) for p in list_frames(folder)])
    assert np.array_equal(crop_clip(arrays, "mie-x", 64, detector=detector, cache=False), mie)
    with pytest.raises(MiexError, match="crop method"):
        crop_clip(folder, "centre", 64, cache=False)
    with pytest.raises(MiexError, match="crop size"):
        crop_clip(folder, "meb", 4, cache=False)


def test_cache_makes_the_second_run_detection_free(crop_tree, tmp_path):
    ds = load_dataset("casme2", crop_tree)
    det = FaceDetector()
    cache = tmp_path / "cache"
    skips = SkipLog(echo=False)
    first = crop_dataset(ds, "mie-x", 96, detector=det, cache_dir=cache, progress=False, skips=skips)
    assert list(first.columns) == list(CROP_INDEX_COLUMNS)
    assert sorted(first["clip"]) == ["EP02_01f", "EP03_02f"]
    calls = det.calls
    assert calls >= 3  # one per clip, the faceless one more (padded retry)

    again = crop_dataset(ds, "mie-x", 96, detector=det, cache_dir=cache, progress=False, skips=SkipLog(echo=False))
    assert det.calls == calls  # nothing detected: every clip, the faceless one included, came from the cache
    for a, b in zip(first["crops"], again["crops"]):
        assert a == b and np.array_equal(load_crops(a), load_crops(b))
    assert all(Path(p).is_relative_to(cache) and p.endswith(".npz") for p in first["crops"])
    assert (cache / Path(first["crops"][0]).relative_to(cache).parts[0] / "settings.json").is_file()
    row = first.set_index("clip").loc["EP02_01f"]
    assert row["n_frames"] == 5 and row["reference"].endswith("img8.jpg")
    assert np.array_equal(load_crops(row["crops"]), crop_clip(row["frames"], "mie-x", 96, detector=det, cache=False))

    # other settings -> new crops; a changed frame -> that clip only is cropped again
    crop_dataset(ds, "meb", 96, detector=det, cache_dir=cache, progress=False, skips=SkipLog(echo=False))
    assert det.calls > calls
    calls = det.calls
    onset = Path(row["reference"])
    stat = onset.stat()
    os.utime(onset, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    crop_dataset(ds, "mie-x", 96, detector=det, cache_dir=cache, progress=False, skips=SkipLog(echo=False))
    assert det.calls == calls + 1


def test_default_cache_dir_follows_miex_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MIEX_CACHE_DIR", str(tmp_path))
    assert default_crop_cache_dir() == tmp_path / "crops"


def test_clip_without_face_is_named_and_skipped(crop_tree, detector, tmp_path, capsys):
    folder = _clip_dir(crop_tree, "sub04", NO_FACE)
    onset = list_frames(folder)[0]
    with pytest.raises(InputError) as err:
        crop_clip(folder, "meb", detector=detector, cache_dir=tmp_path)
    assert err.value.path == onset and "no face found" in str(err.value)
    # cached as a failure: raised again without detecting
    calls = detector.calls
    with pytest.raises(InputError, match="no face found"):
        crop_clip(folder, "meb", detector=detector, cache_dir=tmp_path)
    assert detector.calls == calls

    ds = load_dataset("casme2", crop_tree)
    result = crop_dataset(ds, "meb", 64, detector=detector, cache_dir=tmp_path / "c2", progress=False)
    assert NO_FACE not in set(result["clip"]) and len(result) == 2
    err_text = capsys.readouterr().err
    assert f"skipped {onset}" in err_text and "no face found" in err_text
    assert [path for path, _ in result.attrs["skips"]] == [onset]


def test_unreadable_frame_is_named(crop_tree, detector, tmp_path):
    folder = tmp_path / "EP02_01f"
    shutil.copytree(_clip_dir(crop_tree, "sub01", "EP02_01f"), folder)
    broken = folder / "img11.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    with pytest.raises(InputError) as err:
        crop_clip(folder, "mie-x", 64, detector=detector, cache_dir=tmp_path / "cache")
    assert err.value.path == str(broken) and "unreadable" in err.value.reason
