"""Face generators: render an AU vector onto a face (see :class:`Generator`).

Backends are registered by name and imported lazily:

- ``"warp"`` (:class:`miex.generators.warp.WarpGenerator`): training-free AU-driven warp, CPU;
- ``"ganimation"``: the learned backend; it becomes available as soon as the module
  ``miex.generators.ganimation`` with class ``GANimationGenerator`` exists.

Other backends can be added at run time with :func:`register_generator`.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Callable

from miex.errors import MiexError
from miex.generators.base import Generator

#: name -> "module:attribute" of a Generator subclass (or factory), imported on first use.
_BUILTIN: dict[str, str] = {
    "warp": "miex.generators.warp:WarpGenerator",
    "ganimation": "miex.generators.ganimation:GANimationGenerator",
}
_EXTRA: dict[str, Callable[..., Generator]] = {}


def register_generator(name: str, factory: Callable[..., Generator]) -> None:
    """Make ``create_generator(name, **options)`` call ``factory(**options)``."""
    _EXTRA[str(name)] = factory


def _available(target: str) -> bool:
    module = target.split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def list_generators() -> list[str]:
    """Names of the generators that can be created here (sorted)."""
    names = {n for n, target in _BUILTIN.items() if _available(target)}
    return sorted(names | set(_EXTRA))


def create_generator(name: str = "warp", **options: Any) -> Generator:
    """A generator by registry name, e.g. ``create_generator("warp", grid=64)``."""
    key = str(name).strip().lower()
    if key in _EXTRA:
        return _EXTRA[key](**options)
    target = _BUILTIN.get(key)
    if target is None or not _available(target):
        raise MiexError(f"unknown generator {name!r}; available: {', '.join(list_generators())}")
    module, attr = target.split(":", 1)
    factory = getattr(importlib.import_module(module), attr)
    return factory(**options)


__all__ = ["Generator", "create_generator", "list_generators", "register_generator"]
