"""Reading weight files (``.pth``) written by ``torch.save``; nothing is ever downloaded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from miex.errors import InputError, MiexError


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Load a state_dict from ``path`` onto the CPU (``torch.load(weights_only=True)``).

    Accepts a plain state_dict, a checkpoint dict holding one under ``"state_dict"``,
    ``"model"`` or ``"model_state_dict"``, and DDP-saved keys (``"module."`` prefix).
    Raises InputError naming the file when it is missing, unreadable or holds no tensors.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such weights file")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors all mean "not a weights file we can read"
        first = (str(e).splitlines() or [""])[0][:200]
        raise InputError(p, f"unreadable weights file ({type(e).__name__}: {first})") from None
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
