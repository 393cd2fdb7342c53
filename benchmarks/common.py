"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``, so this file
is importable as ``common``)."""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def load() -> str:
    """The machine's load average, printed next to every timing."""
    return "load average %.1f %.1f %.1f" % os.getloadavg()


def cpu_seconds() -> tuple[float, float]:
    """(user, system) CPU seconds of this process and its finished children so far (worker
    processes count once their pool has shut down)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + children.ru_utime, own.ru_stime + children.ru_stime


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
