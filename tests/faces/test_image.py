from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from miex.errors import InputError
from miex.faces import load_image


@pytest.fixture(scope="module")
def small_rgb(astronaut_rgb) -> np.ndarray:
    return np.ascontiguousarray(astronaut_rgb[60:220:2, 150:290:2])  # 80 x 70, the face


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("BMP", ".bmp"), ("JPEG", ".jpg"), ("JPEG", ".JPEG")])
def test_formats_round_trip(tmp_path, small_rgb, fmt, suffix):
    path = tmp_path / f"face{suffix}"
    Image.fromarray(small_rgb).save(path, format=fmt, quality=95)
    img = load_image(path)
    assert img.dtype == np.uint8 and img.shape == small_rgb.shape and img.flags["C_CONTIGUOUS"]
    if fmt == "JPEG":
        assert np.abs(img.astype(int) - small_rgb).mean() < 4
    else:
        np.testing.assert_array_equal(img, small_rgb)


def test_matches_opencv_on_the_astronaut(astronaut_path, astronaut_rgb):
    np.testing.assert_array_equal(load_image(astronaut_path), astronaut_rgb)


@pytest.mark.parametrize("writer", ["pillow", "pillow-progressive", "pillow-subsampling-0", "opencv", "opencv-trailing"])
def test_jpeg_fast_path_gives_pillows_pixels(tmp_path, astronaut_rgb, writer):
    """Plain 3-component JPEGs are decoded by OpenCV (about twice as fast); the pixels must be
    exactly what Pillow decodes, whichever encoder wrote the file."""
    import cv2

    from miex.faces.image import _plain_jpeg

    path = tmp_path / "face.jpg"
    if writer.startswith("pillow"):
        options = {"progressive": True} if writer.endswith("progressive") else {}
        if writer.endswith("subsampling-0"):
            options["subsampling"] = 0
        Image.fromarray(astronaut_rgb).save(path, quality=90, **options)
    else:
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        path.write_bytes(data.tobytes() + (b"\x00\x00" if writer.endswith("trailing") else b""))
    with Image.open(path) as im:
        expected = np.asarray(im.convert("RGB"))
    assert _plain_jpeg(path.read_bytes()) == (writer != "opencv-trailing")
    np.testing.assert_array_equal(load_image(path), expected)


def test_jpeg_fast_path_without_rgb_decoding(tmp_path, astronaut_rgb, monkeypatch):
    """OpenCV before 4.10 has no IMREAD_COLOR_RGB: the fast path decodes BGR and converts."""
    import cv2

    path = tmp_path / "face.jpg"
    Image.fromarray(astronaut_rgb).save(path, quality=90)
    with Image.open(path) as im:
        expected = np.asarray(im.convert("RGB"))
    monkeypatch.delattr(cv2, "IMREAD_COLOR_RGB", raising=False)
    np.testing.assert_array_equal(load_image(path), expected)


def test_exif_orientation_is_applied(tmp_path):
    # 30 wide x 20 high; the left third red, the rest blue
    raw = np.zeros((20, 30, 3), np.uint8)
    raw[:, :10] = (255, 0, 0)
    raw[:, 10:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "phone.jpg"
    Image.fromarray(raw).save(path, exif=exif.tobytes(), quality=95)
    img = load_image(path)
    assert img.shape == (30, 20, 3)  # upright: now taller than wide
    # rotating 90 deg clockwise moves the left (red) part of the stored image to the top
    assert img[2, 10, 0] > 200 and img[2, 10, 2] < 60
    assert img[25, 10, 2] > 200 and img[25, 10, 0] < 60


def test_grayscale_becomes_rgb(tmp_path, small_rgb):
    gray = small_rgb.mean(axis=2).astype(np.uint8)
    path = tmp_path / "gray.png"
    Image.fromarray(gray, mode="L").save(path)
    img = load_image(path)
    assert img.shape == (*gray.shape, 3)
    for c in range(3):
        np.testing.assert_array_equal(img[..., c], gray)


def test_16bit_grayscale_is_scaled(tmp_path):
    ramp = (np.arange(64, dtype=np.uint32) * 1040).reshape(8, 8).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)
    img = load_image(path)
    assert img.dtype == np.uint8 and img.shape == (8, 8, 3)
    np.testing.assert_array_equal(img[..., 0], np.rint(ramp / 65535 * 255).astype(np.uint8))


def test_rgba_and_palette_become_rgb(tmp_path, small_rgb):
    rgba = np.dstack([small_rgb, np.full(small_rgb.shape[:2], 128, np.uint8)])
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    np.testing.assert_array_equal(load_image(path), small_rgb)  # alpha dropped, colour kept
    pal = tmp_path / "pal.png"
    Image.fromarray(small_rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(pal)
    img = load_image(pal)
    assert img.shape == small_rgb.shape and np.abs(img.astype(int) - small_rgb).mean() < 8


def _corrupt_files(tmp_path: Path, small_rgb: np.ndarray) -> dict[str, Path]:
    good = tmp_path / "good.jpg"
    Image.fromarray(small_rgb).save(good)
    data = good.read_bytes()
    files = {
        "truncated": tmp_path / "truncated.jpg",
        "garbage": tmp_path / "garbage.png",
        "empty": tmp_path / "empty.bmp",
        "text": tmp_path / "notes.jpg",
    }
    files["truncated"].write_bytes(data[: len(data) // 3])
    files["garbage"].write_bytes(bytes(range(256)) * 4)
    files["empty"].write_bytes(b"")
    files["text"].write_text("not an image\n")
    return files


def test_corrupt_files_raise_input_error_naming_the_file(tmp_path, small_rgb):
    for kind, path in _corrupt_files(tmp_path, small_rgb).items():
        with pytest.raises(InputError) as info:
            load_image(path)
        assert info.value.path == str(path), kind
        assert str(path) in str(info.value) and "unreadable image" in str(info.value), kind


def test_missing_file_and_folder(tmp_path):
    missing = tmp_path / "nope.jpg"
    with pytest.raises(InputError, match="file not found") as info:
        load_image(missing)
    assert str(missing) in str(info.value)
    with pytest.raises(InputError, match="unreadable image"):
        load_image(tmp_path)
