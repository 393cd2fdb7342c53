"""Where miex keeps its disk caches (face landmarks, clip crops, ...)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(kind: str) -> Path:
    """``$MIEX_CACHE_DIR/<kind>`` if set, else ``$XDG_CACHE_HOME/miex/<kind>`` or ``~/.cache/miex/<kind>``.

    Read from the environment on every call, so a changed variable takes effect at once.
    """
    root = os.environ.get("MIEX_CACHE_DIR")
    if root:
        return Path(root).expanduser() / kind
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "miex" / kind
