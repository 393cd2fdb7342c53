"""Real faces for the generator tests, detected once per session, and a figure log.

Faces: scikit-image's astronaut (NASA, public domain), its mirror image, and matplotlib's
grace_hopper.jpg (US Navy, public domain), aligned to 128 px crops by :mod:`miex.faces`.

Measured figures (identity distances, Pearson r, motion directions, ...) are collected with
the ``figures`` fixture and printed in pytest's terminal summary (visible without ``-s``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

_FIGURES: list[str] = []


@pytest.fixture(scope="session")
def figures():
    """Call ``figures(line)`` to add a line to the end-of-session report."""
    return _FIGURES.append


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    if _FIGURES:
        terminalreporter.section("miex generator figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def grace_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="session")
def detector():
    from miex.faces import FaceDetector

    return FaceDetector(upsample=1)


@pytest.fixture(scope="session")
def generator():
    from miex.generators import create_generator

    return create_generator("warp")


@pytest.fixture(scope="session")
def faces(astronaut_rgb, grace_path, detector):
    """name -> aligned 128 px Face (astronaut, mirrored astronaut, Grace Hopper)."""
    from miex.faces import detect_face, load_image

    images = {
        "astronaut": astronaut_rgb,
        "astronaut-mirror": np.ascontiguousarray(astronaut_rgb[:, ::-1]),
        "grace": load_image(grace_path),
    }
    return {name: detect_face(img, size=128, detector=detector) for name, img in images.items()}


@pytest.fixture(scope="session")
def prepared(faces, generator):
    return {name: generator.prepare(face) for name, face in faces.items()}


@pytest.fixture(scope="session")
def neutral(faces, detector):
    """name -> (box on the crop, sub-pixel dlib landmarks of the unrendered crop)."""
    from miex.au.estimate import precise_landmarks

    out = {}
    for name, face in faces.items():
        boxes = detector.detect(face.image)
        assert boxes, f"dlib finds no face on the aligned {name} crop"
        out[name] = (boxes[0], precise_landmarks(face.image, boxes[0], detector))
    return out
