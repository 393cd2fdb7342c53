"""The model of an experiment: ``miex.models.create`` with the ``[model]`` options and weights."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from miex.errors import MiexError
from miex.train.experiment import ExperimentConfig

_NOT_OPTIONS = ("name", "backbone_weights", "init_weights")


def model_kwargs(config: ExperimentConfig) -> dict[str, Any]:
    """The keyword options of ``create`` from ``[model]`` (weights files resolved)."""
    options = {k: v for k, v in config.model.items() if k not in _NOT_OPTIONS}
    if config.model.get("backbone_weights"):
        options["pretrained_backbone"] = str(Path(config.model["backbone_weights"]).expanduser())
    return options


def input_spec(config: ExperimentConfig) -> Any:
    """The model's ``input_spec`` (built without backbone weights: the spec does not depend on them)."""
    from miex.models import create

    options = {k: v for k, v in model_kwargs(config).items() if k != "pretrained_backbone"}
    return create(config.model["name"], seed=0, **options).input_spec


def model_factory(config: ExperimentConfig, num_classes: int) -> Callable[[int], Any]:
    """``factory(seed) -> model``: ``miex.models.create`` with the ``[model]`` options, ImageNet
    backbone weights (``backbone_weights``) and/or a miex checkpoint (``init_weights``)."""
    from miex.models import create

    options = model_kwargs(config)
    name = config.model["name"]
    init = str(Path(config.model["init_weights"]).expanduser()) if config.model.get("init_weights") else ""

    def factory(seed: int) -> Any:
        model = create(name, num_classes=num_classes, seed=seed, **options)
        if init:
            load_model_weights(model, init)
        return model

    return factory


def load_model_weights(model: Any, path: str) -> None:
    """Load an ``init_weights`` file: a miex checkpoint (``{"model": state_dict, ...}``), a plain
    state_dict, or a partial file naming its ``init_modules`` (MA2MI pre-training's ``last.pt``);
    keys and shapes are checked by :func:`miex.models.weights.load_init_weights`."""
    from miex.errors import InputError
    from miex.models.weights import load_init_weights

    file = Path(path)
    if not file.is_file():
        raise MiexError(f"{path}: [model] init_weights: file not found")
    try:
        load_init_weights(model, file)
    except InputError as exc:  # unreadable, or not a dict of tensors
        raise MiexError(f"{path}: [model] init_weights: not a readable PyTorch checkpoint ({exc.reason})") from None


def check_init_weights(config: ExperimentConfig, num_classes: int) -> None:
    """Load ``[model] init_weights`` (when set) into a fresh model: a missing, corrupt or
    mismatched file (other keys or shapes) is one MiexError naming it, before anything runs.
    ``miex train --dry-run`` and every run call it."""
    if config.model.get("init_weights"):
        options = {k: v for k, v in model_kwargs(config).items() if k != "pretrained_backbone"}
        from miex.models import create

        model = create(config.model["name"], num_classes=num_classes, seed=0, **options)
        load_model_weights(model, str(Path(config.model["init_weights"]).expanduser()))
