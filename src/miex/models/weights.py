"""Reading weight files (``.pth``) written by ``torch.save``; nothing is ever downloaded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from miex.errors import InputError, MiexError


def _load_object(p: Path) -> object:
    if not p.is_file():
        raise InputError(p, "no such weights file")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors all mean "not a weights file we can read"
        first = (str(e).splitlines() or [""])[0][:200]
        raise InputError(p, f"unreadable weights file ({type(e).__name__}: {first})") from None


def _state_of(obj: object, p: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(p, "not a state_dict (expected a dict of tensors, as torch.save(model.state_dict()) writes)")
    state = {str(k): v for k, v in obj.items()}
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Load a state_dict from ``path`` onto the CPU (``torch.load(weights_only=True)``).

    Accepts a plain state_dict, a checkpoint dict holding one under ``"state_dict"``,
    ``"model"`` or ``"model_state_dict"``, and DDP-saved keys (``"module."`` prefix).
    Raises InputError naming the file when it is missing, unreadable or holds no tensors.
    """
    p = Path(path)
    return _state_of(_load_object(p), p)


def describe_mismatch(
    expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], *, optional_suffixes: tuple[str, ...] = ()
) -> list[str]:
    """Human-readable problems between an expected and a given state_dict (empty when they fit)."""
    problems: list[str] = []
    missing = [k for k in expected if k not in given and not k.endswith(optional_suffixes)]
    unexpected = [k for k in given if k not in expected]
    shapes = [
        f"{k}: file {tuple(given[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in given and tuple(given[k].shape) != tuple(expected[k].shape)
    ]

    def head(items: list[str]) -> str:
        more = f" (+{len(items) - 5} more)" if len(items) > 5 else ""
        return ", ".join(items[:5]) + more

    if missing:
        problems.append(f"missing {len(missing)} key(s): {head(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} key(s): {head(unexpected)}")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatch(es): {head(shapes)}")
    return problems


def load_checked(
    module: torch.nn.Module, given: Mapping[str, torch.Tensor], *, source: object, what: str,
    optional_suffixes: tuple[str, ...] = ("num_batches_tracked",),
) -> None:
    """Copy ``given`` into ``module`` strictly; MiexError naming ``source`` on any mismatch.

    Keys ending in ``optional_suffixes`` (BatchNorm's ``num_batches_tracked`` counters, absent
    from checkpoints written before PyTorch 0.4) may be missing and keep the module's value.
    """
    expected = module.state_dict()
    problems = describe_mismatch(expected, given, optional_suffixes=optional_suffixes)
    if problems:
        raise MiexError(f"{source}: does not fit {what}: " + "; ".join(problems))
    full = dict(expected)
    full.update(given)
    module.load_state_dict(full, strict=True)


# --------------------------------------------------------------------------- init weights
#: Key of a checkpoint dict listing the top-level modules a *partial* weights file initialises
#: (MA2MI pre-training writes ``["position_encoder", "action_encoder"]``).
INIT_MODULES_KEY = "init_modules"


def read_init_weights(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], list[str] | None]:
    """(state_dict, init_modules) of an ``[model] init_weights`` file; ``init_modules`` is None
    for a complete model file (a miex checkpoint ``{"model": ...}`` or a plain state_dict)."""
    p = Path(path)
    obj = _load_object(p)
    modules = obj.get(INIT_MODULES_KEY) if isinstance(obj, Mapping) else None
    if modules is not None and (not isinstance(modules, (list, tuple)) or not modules
                                or not all(isinstance(m, str) and m for m in modules)):
        raise InputError(p, f"{INIT_MODULES_KEY!r} must be a non-empty list of module names, got {modules!r}")
    return _state_of(obj, p), (list(modules) if modules is not None else None)


def _init_problems(model: torch.nn.Module, state: Mapping[str, torch.Tensor], modules: list[str] | None) -> list[str]:
    expected = model.state_dict()
    if modules is None:
        return describe_mismatch(expected, state, optional_suffixes=("num_batches_tracked",))
    names = {n for n, _ in model.named_children()}
    unknown = [m for m in modules if m not in names]
    if unknown:
        return [f"the model has no module(s) {', '.join(unknown)} (it has: {', '.join(sorted(names))})"]
    prefixes = tuple(f"{m}." for m in modules)
    outside = [k for k in state if not k.startswith(prefixes)]
    if outside:
        return [f"{len(outside)} key(s) outside its {INIT_MODULES_KEY} {modules}: {', '.join(outside[:5])}"]
    part = {k: v for k, v in expected.items() if k.startswith(prefixes)}
    return describe_mismatch(part, state, optional_suffixes=("num_batches_tracked",))


def _checked(model: torch.nn.Module, path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], list[str]]:
    state, modules = read_init_weights(path)
    problems = _init_problems(model, state, modules)
    if problems:
        name = (getattr(model, "miex_config", None) or {}).get("name") or type(model).__name__
        raise MiexError(f"{path}: init weights do not fit model {name!r}: " + "; ".join(problems))
    return state, list(modules or [])


def check_init_weights(model: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Check that ``path`` can initialise ``model`` (``[model] init_weights``) without loading it.

    A complete file (a miex checkpoint ``{"model": state_dict, ...}``, a plain state_dict, DDP
    ``module.`` keys) must hold every key of the model with the same shapes and nothing else
    (BatchNorm ``num_batches_tracked`` counters may be absent). A partial file -- a checkpoint
    dict with ``"init_modules": [names]``, as ``miex pretrain ma2mi`` writes -- must hold each
    listed top-level module completely, with matching shapes, and nothing outside them; the other
    modules (a classifier head) keep their initialisation.

    Raises :class:`InputError` (missing, unreadable or junk file) or :class:`MiexError` (keys or
    shapes do not fit), each one line naming the file.
    """
    _checked(model, path)


def load_init_weights(model: torch.nn.Module, path: str | os.PathLike[str]) -> list[str]:
    """Check (:func:`check_init_weights`) and load ``path`` into ``model``; returns the modules
    it initialised (``[]``: the whole model)."""
    state, modules = _checked(model, path)
    full = dict(model.state_dict())
    full.update(state)
    model.load_state_dict(full, strict=True)
    return modules
