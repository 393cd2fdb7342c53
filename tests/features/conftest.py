"""Model tests run torch on one thread (the ``one_torch_thread`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread: None) -> None:
    """Every test of this folder runs with ``one_torch_thread``."""
