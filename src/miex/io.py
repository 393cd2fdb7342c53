"""Atomic file writes: a crash or Ctrl-C never leaves a half-written file that looks complete.

Temporary names are ``.<final name>.<pid>-<n>.tmp[<suffix>]`` beside the final path, created
exclusively (a name taken by another process, say a Ray worker on another node, is skipped),
with mode 0o666 / 0o777 so that the kernel applies the umask: the files get the permissions a
plain ``open`` or ``mkdir`` would give. (Reading the umask would mean setting it, and that is
not safe while other threads create files.) Names starting with ``.`` and containing ``.tmp``
are what ``miex synth`` clears as debris of an interrupted run.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

#: Flags for creating a new file: exclusive, binary on Windows, not inherited by children.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_serial = itertools.count()


def _tmp_names(final: Path, suffix: str) -> Iterator[Path]:
    """Fresh temporary names beside ``final`` (see the module docstring)."""
    while True:
        yield final.with_name(f".{final.name}.{os.getpid()}-{next(_serial)}.tmp{suffix}")


def _create(final: Path, suffix: str, make) -> Path:
    """The first free temporary name beside ``final`` (ending with ``suffix``) on which
    ``make(name)`` succeeds; the parent folder is created when missing."""
    made_parent = False
    for name in _tmp_names(final, suffix):
        try:
            make(name)
            return name
        except FileExistsError:
            continue
        except FileNotFoundError:
            # Another process may have made the parent since ``make`` failed: try once more.
            if made_parent:
                raise
            final.parent.mkdir(parents=True, exist_ok=True)
            made_parent = True
    raise AssertionError("unreachable")  # pragma: no cover


def _tmp_sibling(path: Path, suffix: str = "") -> Path:
    """A fresh, empty temporary file beside ``path`` whose name ends with ``suffix``."""
    return _create(path, suffix, lambda name: os.close(os.open(name, _NEW_FILE, 0o666)))


def write_new_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path``, which must not exist yet (for files inside a folder that
    :func:`atomic_dir` is building: three system calls, where ``Path.write_bytes`` makes five)."""
    fd = os.open(path, _NEW_FILE, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    The temporary name keeps the final suffix, so writers that infer the format from the
    extension (``cv2.imwrite``, ``DataFrame.to_parquet``, matplotlib) still work.
    """
    final = Path(path)
    tmp = _tmp_sibling(final, final.suffix)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_parquet(path: str | os.PathLike[str], df: pd.DataFrame) -> None:
    """Write a DataFrame to Parquet atomically and reproducibly (no index, no timestamps)."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory; rename it onto ``path`` when the block succeeds.

    A sample folder thus either exists complete or not at all. An existing ``path``
    is replaced.
    """
    final = Path(path)
    tmp = _tmp_dir(final)
    try:
        yield tmp
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _tmp_dir(final: Path) -> Path:
    """A fresh, empty temporary folder beside ``final``."""
    return _create(final, "", lambda name: os.mkdir(name, 0o777))


def _replace_dir(tmp: Path, final: Path) -> None:
    """Rename the folder ``tmp`` onto ``final``, removing what ``final`` held first."""
    try:
        os.replace(tmp, final)
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.EACCES):
            raise
        if not os.path.lexists(final):
            raise
    if final.is_dir() and not final.is_symlink():
        shutil.rmtree(final)
    else:
        final.unlink()
    os.replace(tmp, final)
