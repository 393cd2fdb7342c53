"""Paths of the dlib model files shipped by ``face-recognition-models``.

The package's ``__init__`` imports ``pkg_resources``, which setuptools >= 81 no longer
provides, so it is located with ``importlib.util.find_spec`` and never imported.
``$MIEX_FACE_MODELS_DIR`` (a folder holding the ``.dat`` files) overrides the lookup.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from miex.errors import MiexError

SHAPE_PREDICTOR_68 = "shape_predictor_68_face_landmarks.dat"
FACE_RECOGNITION_RESNET = "dlib_face_recognition_resnet_model_v1.dat"
_PACKAGE = "face_recognition_models"


def models_dir() -> Path:
    """The folder holding the ``.dat`` model files."""
    override = os.environ.get("MIEX_FACE_MODELS_DIR")
    if override:
        return Path(override)
    try:
        spec = importlib.util.find_spec(_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        cand = Path(loc) / "models"
        if cand.is_dir():
            return cand
    raise MiexError(
        "the dlib face models are missing: install them with "
        "`pip install face-recognition-models` (or set MIEX_FACE_MODELS_DIR)"
    )


def model_path(name: str) -> Path:
    """Full path of model file ``name``; :class:`MiexError` if it is not there."""
    path = models_dir() / name
    if not path.is_file():
        raise MiexError(f"{path}: dlib model file not found (reinstall face-recognition-models)")
    return path
