"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``, so this file
is importable as ``common``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def load() -> str:
    """The machine's load average, printed next to every timing."""
    return "load average %.1f %.1f %.1f" % os.getloadavg()


@contextmanager
def scratch(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A fresh work folder (``MIEX_CACHE_DIR`` inside it unless already set), removed afterwards
    unless ``keep``."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.setdefault("MIEX_CACHE_DIR", str(work / "cache"))
    try:
        yield work
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
