"""Shared, session-scoped detections so the dlib work is done once per test run."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def grace_path() -> Path:
    """matplotlib's grace_hopper.jpg (US Navy, public domain): a second real face."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="session")
def coffee_path() -> Path:
    """scikit-image's coffee.png: a real photo with no face."""
    import skimage

    return Path(skimage.__file__).parent / "data" / "coffee.png"


@pytest.fixture(scope="session")
def detector():
    from miex.faces import FaceDetector

    return FaceDetector(upsample=1)


@pytest.fixture(scope="session")
def astronaut_face(astronaut_path, detector):
    from miex.faces import detect_face

    return detect_face(astronaut_path, detector=detector)


@pytest.fixture(scope="session")
def grace_face(grace_path, detector):
    from miex.faces import detect_face

    return detect_face(grace_path, detector=detector)
