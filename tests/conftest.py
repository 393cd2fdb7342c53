"""Shared test fixtures: real face photos that ship inside installed packages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def astronaut_path() -> Path:
    """scikit-image's astronaut.png (public domain, NASA): a real frontal face."""
    import skimage

    return Path(skimage.__file__).parent / "data" / "astronaut.png"


@pytest.fixture(scope="session")
def astronaut_rgb(astronaut_path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(astronaut_path), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """torch on one thread for the test, restored afterwards: the models are small, and OpenMP
    threads that spin while another process holds the second core made such tests several times
    slower. ``tests/features`` and ``tests/models`` use it for every test (their conftest)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
