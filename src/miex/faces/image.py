"""Loading photos as RGB uint8 arrays (jpg, png, bmp and anything else Pillow reads)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from miex.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read ``path`` as an ``(H, W, 3)`` uint8 RGB array.

    - EXIF orientation is applied (``PIL.ImageOps.exif_transpose``), so phone photos come upright.
    - Grayscale, palette, CMYK and RGBA images become RGB; the alpha channel is dropped
      (the colour values underneath are kept as they are).
    - 16-bit images are scaled to 8 bits (``value * 255 / 65535``, rounded).

    Raises :class:`InputError` ``(path, "unreadable image: ...")`` for a missing, empty,
    truncated or unrecognised file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise InputError(p, "unreadable image: file not found")
    if not p.is_file():
        raise InputError(p, "unreadable image: not a file")
    fast = _decode_plain_jpeg(p) if p.suffix.lower() in _JPEG_SUFFIXES else None
    if fast is not None:
        return fast
    try:
        with Image.open(p) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_rgb8(im)
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise InputError(p, f"unreadable image: {_short(exc)}") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise InputError(p, f"unreadable image: {_short(exc)}") from None


#: File names whose bytes are checked for the OpenCV fast path (others go to Pillow unread).
_JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe")
#: JPEG start-of-frame markers whose component count :func:`_plain_jpeg` reads (baseline,
#: extended, progressive; Huffman coded).
_SOF_MARKERS = (0xC0, 0xC1, 0xC2)


def _plain_jpeg(data: bytes) -> bool:
    """True for a complete 3-component JPEG without EXIF: one that OpenCV decodes to exactly
    the pixels Pillow gives (both use libjpeg-turbo) and that needs no orientation, colour
    conversion or truncation check. Anything else (EXIF, CMYK, grey, a missing end marker)
    takes the Pillow path."""
    if data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9":
        return False
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xE1 and data[i + 4 : i + 10] == b"Exif\x00\x00":
            return False
        if marker in _SOF_MARKERS:
            return i + 9 < len(data) and data[i + 9] == 3
        if marker == 0xDA:  # start of scan before any frame header: not a plain file
            return False
        i += 2 + length
    return False


def _decode_plain_jpeg(path: Path) -> np.ndarray | None:
    """RGB pixels of a plain JPEG (see :func:`_plain_jpeg`) through OpenCV, about twice as fast
    as Pillow for video frames and face crops; None to use Pillow."""
    import cv2

    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not _plain_jpeg(data):
        return None
    buffer = np.frombuffer(data, np.uint8)
    if hasattr(cv2, "IMREAD_COLOR_RGB"):  # OpenCV >= 4.10: libjpeg writes RGB directly (same pixels, one pass fewer)
        return cv2.imdecode(buffer, cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION)
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _short(exc: BaseException) -> str:
    text = str(exc).split("\n")[0].strip()
    return text or type(exc).__name__


def _to_rgb8(im) -> np.ndarray:  # im: PIL.Image.Image
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(im).astype(np.float64)
        arr = np.clip(np.rint(arr * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(arr[..., None], 3, axis=2))
    if mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        hi = 1.0 if arr.size and arr.max() <= 1.0 else 255.0
        arr = np.clip(np.rint(arr * (255.0 / hi)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(arr[..., None], 3, axis=2))
    if mode != "RGB":
        if mode in ("P", "PA"):
            im = im.convert("RGBA")
        im = im.convert("RGB")
    arr = np.asarray(im, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"unexpected image shape {arr.shape}")
    return np.ascontiguousarray(arr)


def as_rgb(image: np.ndarray, what: str = "<array>") -> np.ndarray:
    """Validate an in-memory image: ``(H, W, 3)`` uint8 (gray ``(H, W)`` is expanded)."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(what, f"expected an (H, W, 3) RGB image, got shape {arr.shape}")
    if arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.dtype != np.uint8:
        raise InputError(what, f"expected a uint8 image, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr)
