"""On-disk cache of per-clip features, keyed by clip and by the settings that made them."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import numpy as np

import miex
from miex.errors import MiexError
from miex.features.flow import FEATURE_CODE_VERSION
from miex.io import atomic_path, write_json

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def settings_hash(settings: Mapping[str, Any]) -> str:
    """16 hex digits identifying ``settings`` plus the feature-code and miex versions."""
    full = {**settings, "_feature_code": FEATURE_CODE_VERSION, "_miex": miex.__version__}
    try:
        text = json.dumps(full, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise MiexError(f"feature settings must be JSON values (str, number, bool, list, dict): {e}") from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class FeatureCache:
    """Features stored as ``ROOT/<settings hash>/<clip key>.npy`` (written atomically).

    ``settings`` is a JSON-able dict of everything that changes the numbers (method, size,
    channels, normalisation, face-crop settings, ...); the feature-code version and the miex
    version are added automatically, so a change of any of them gives new files instead of
    stale ones. ``ROOT/<hash>/settings.json`` records the settings for humans.
    Clip keys are strings such as ``"casme2/sub01/EP02_01f"`` (``/`` makes subfolders).
    Safe for several processes: files appear complete or not at all.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def path(self, key: str, settings: Mapping[str, Any]) -> Path:
        """Where the feature of clip ``key`` under ``settings`` lives."""
        if not isinstance(key, str) or not key.strip("/"):
            raise MiexError(f"feature cache key must be a non-empty string, got {key!r}")
        parts = [p for p in key.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise MiexError(f"feature cache key {key!r} may not contain '.' or '..' parts")
        safe = [_SAFE.sub("_", p) for p in parts]
        if safe != parts:  # keep distinct keys distinct after sanitising
            safe[-1] += "-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
        return self.root.joinpath(settings_hash(settings), *safe[:-1], safe[-1] + ".npy")

    def get(self, key: str, settings: Mapping[str, Any]) -> np.ndarray | None:
        """The cached array, or None when absent or unreadable."""
        p = self.path(key, settings)
        if not p.is_file():
            return None
        try:
            return np.load(p, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None

    def put(self, key: str, settings: Mapping[str, Any], array: np.ndarray) -> Path:
        """Store ``array`` for ``key``/``settings`` atomically; returns its path."""
        p = self.path(key, settings)
        meta = self.root / settings_hash(settings) / "settings.json"
        if not meta.exists():
            write_json(meta, {**settings, "_feature_code": FEATURE_CODE_VERSION, "_miex": miex.__version__})
        with atomic_path(p) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.asarray(array), allow_pickle=False)
        return p

    def get_or_compute(self, key: str, settings: Mapping[str, Any], fn: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached feature for ``key``/``settings``; on a miss ``fn()`` computes and stores it."""
        arr = self.get(key, settings)
        if arr is not None:
            self.hits += 1
            return arr
        arr = np.asarray(fn())
        self.put(key, settings, arr)
        self.misses += 1
        return arr
