"""Model registry in the style of timm: ``@register_model`` a factory, ``create(name)`` builds it."""

from __future__ import annotations

import fnmatch
import inspect
from typing import Any, Callable, TypeVar, overload

from miex.errors import MiexError

F = TypeVar("F", bound=Callable[..., Any])

_REGISTRY: dict[str, Callable[..., Any]] = {}


def _canonical(name: str) -> str:
    return name.strip().lower().replace("-", "").replace("_", "")


@overload
def register_model(fn: F) -> F: ...
@overload
def register_model(fn: str | None = None) -> Callable[[F], F]: ...


def register_model(fn: Any = None) -> Any:
    """Register a model factory (function or class) under its lower-case name.

    ``@register_model`` uses ``fn.__name__``; ``@register_model("name")`` names it.
    The factory must accept ``num_classes`` as a keyword.
    """

    def deco(f: F, name: str | None = None) -> F:
        key = name or f.__name__
        if key != key.lower():
            raise ValueError(f"model names are lower case: {key!r}")
        if _canonical(key) in {_canonical(k) for k in _REGISTRY} and _REGISTRY.get(key) is not f:
            raise ValueError(f"model {key!r} is already registered")
        _REGISTRY[key] = f
        return f

    if callable(fn):
        return deco(fn)
    return lambda f: deco(f, fn)


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names (sorted), optionally filtered by an fnmatch ``pattern``."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern.lower()))


def _lookup(name: str) -> tuple[str, Callable[..., Any]]:
    if not isinstance(name, str):
        raise MiexError(f"model name must be a string, got {name!r}")
    want = _canonical(name)
    for key, factory in _REGISTRY.items():
        if _canonical(key) == want:
            return key, factory
    raise MiexError(f"unknown model {name!r}; known models: {', '.join(list_models())}")


def model_options(name: str) -> dict[str, Any]:
    """The options (keyword -> default) that ``create(name, ...)`` accepts."""
    _, factory = _lookup(name)
    sig = inspect.signature(factory)
    return {p.name: p.default for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD}


def create(name: str, num_classes: int = 3, *, seed: int | None = None, **kw: Any) -> Any:
    """Build a registered model, e.g. ``create("branches", num_classes=3, image_size=112)``.

    Names are matched case-insensitively, ignoring ``-`` and ``_`` (``"OFF-ApexNet"`` works).
    ``seed`` makes the random initialisation reproducible without touching torch's global
    generator (same seed -> identical weights); without it torch's global generator is used.
    Raises MiexError for an unknown name (listing the known ones) or an unknown option.
    The returned model carries ``model.miex_config`` = {"name", "num_classes", **kw}.
    """
    key, factory = _lookup(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise MiexError(f"num_classes must be a positive integer, got {num_classes!r}")
    sig = inspect.signature(factory)
    try:
        sig.bind(num_classes=num_classes, **kw)
    except TypeError:
        known = [p for p in sig.parameters if p != "num_classes"]
        bad = [k for k in kw if k not in sig.parameters]
        raise MiexError(
            f"model {key!r} has no option(s) {', '.join(bad) or '?'}; options: {', '.join(known)}"
        ) from None
    if seed is None:
        model = factory(num_classes=num_classes, **kw)
    else:
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = factory(num_classes=num_classes, **kw)
    model.miex_config = {"name": key, "num_classes": num_classes, **kw}
    return model
