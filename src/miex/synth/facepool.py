"""Opening the face pool named by ``miex synth --faces``."""

from __future__ import annotations

from pathlib import Path

from miex.errors import MiexError


def is_celeba(root: Path) -> bool:
    return any((root / name).exists() for name in ("identity_CelebA.txt", "Anno/identity_CelebA.txt"))


def open_face_pool(spec: str, *, size: int = 128):
    """``"builtin"`` (real photos shipped with installed packages, plus mirrors), a CelebA root, or a folder."""
    from miex.faces import BuiltinFacePool, CelebAPool, FacePool

    if spec == "builtin":
        return BuiltinFacePool(size=size)
    root = Path(spec)
    if not root.exists():
        raise MiexError(f"{root}: face pool not found (a folder of photos, a CelebA root, or 'builtin')")
    if is_celeba(root):
        return CelebAPool(root, size=size)
    return FacePool(root, size=size)
