"""Experiment config files (TOML), sweeps, and the dry run.

A config has these sections (every key but ``data.dataset`` and ``model.name`` has a default)::

    [experiment]                 # free text, copied to reports
    name = "table1_real_only"
    description = "..."

    [data]
    dataset = "megc2019"         # the evaluation dataset: folds are drawn from its subjects
    roots = { casme2 = "/data/CASME2", samm = "/data/SAMM", smic = "/data/SMIC" }
                                 # optional; else ~/.config/miex/datasets.toml / MIEX_<NAME>_ROOT
    options = {}                 # keyword options of the dataset class (e.g. smic_apex, list_path)
    extra_train = []             # real datasets added to every fold's training data, e.g. ["ckplus"]
    train_datasets = []          # cv = "cross_dataset": the training sets (the test set is `dataset`)
    synthetic = ""               # a `miex synth` folder (modes direct and pretrain_finetune)
    label_scheme = "3class"
    flow_method = "tvl1"         # flow models: tvl1 | farneback | dis
    flow_normalize = "minmax"
    feature_cache = ""           # default $MIEX_CACHE_DIR/features or ~/.cache/miex/features
    preload = false              # decode every frame once and keep it in memory
    crop = "auto"                # face crop (miex.preprocess): auto | meb | mie-x | none; auto crops raw
                                 # recordings the meb way and leaves pre-cropped sets (CASME II
                                 # Cropped/, miex synth folders) as they are
    crop_size = 0                # crop side in px; 0: the model's load size, at least 128
    crop_cache = ""              # default $MIEX_CACHE_DIR/crops or ~/.cache/miex/crops
    allow_partial = false        # run although configured clips are missing (the report says so)
    [data.augment]               # design.md: resize 256, rotate 10, jitter 0.2, crop 224 (scaled)
    enabled = true
    rotate = 10.0
    jitter = 0.2
    resize_ratio = 1.142857      # 256 / 224
    hflip = 0.0

    [model]
    name = "branches"            # any miex.models name
    backbone_weights = ""        # optional torchvision ResNet-18 .pth (ImageNet weights)
    init_weights = ""            # optional miex checkpoint (RUN/checkpoints/*_last.pt) every fold
                                 # starts from; it must not have seen the test subjects
    image_size = 224             # ... and any other option of miex.models.create(name)

    [protocol]
    mode = "real"                # real | direct | pretrain_finetune
    cv = "kfold"                 # loso | kfold | cross_dataset
    k = 5
    seed = 0
    repeats = 3
    val_fraction = 0.0           # > 0: a validation carve-out of the training subjects (for the
                                 # val-selected epoch); every selection then trains on the rest.
                                 # 0 (default, the published protocols): folds train on all
                                 # their training subjects

    [train]                      # the stage on real data (real, fine-tuning) or MiE-X (direct)
    schedule = "real"            # real: 80 constant epochs; synthetic: 10 constant + 10 linear decay
    epochs = 80                  # constant-lr epochs (default from the schedule)
    decay_epochs = 0             # linear-decay epochs (default from the schedule)
    batch_size = 32
    eval_batch_size = 64
    lr = 1e-4
    weight_decay = 5e-4
    clip = 1.0                   # gradient-norm clip; 0 disables
    augment = true
    workers = 0                  # DataLoader worker processes (and feature workers)
    threads = 0                  # torch threads per process (0: torch's default)
    device = "auto"              # auto | cpu | cuda
    amp = false                  # bfloat16 autocast on CUDA
    keep_checkpoints = true      # keep each finished fold's weights
    checkpoint_every = 1         # epochs between resume checkpoints (the last epoch is always saved)
    parallel_folds = 1           # CPU: train this many folds at once in worker processes (small
                                 # models; each worker uses `threads` or 1 torch thread)

    [pretrain]                   # the MiE-X stage of mode pretrain_finetune (ignored otherwise);
    schedule = "synthetic"       # keys as in [train]; unset keys inherit from [train]

    [sweep]                      # optional: lists of values -> one run per combination
    "data.synthetic" = ["mie-x/expert", "mie-x/expert+mie"]

In mode ``direct`` the default schedule of ``[train]`` is ``synthetic``. Keys a mode does not
use are accepted and ignored (``synthetic`` and ``[pretrain]`` in mode ``real``,
``extra_train`` in mode ``direct``), so a sweep may vary ``protocol.mode``. Relative paths are
relative to the working directory. ``--set section.key=value`` overrides any key (the value is
read as TOML, or taken as a string when that fails).
"""

from __future__ import annotations

import copy
import inspect
import itertools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from miex.errors import MiexError

SCHEDULES: dict[str, tuple[int, int] | None] = {"real": (80, 0), "synthetic": (10, 10), "custom": None}
_NUM = (int, float)

DATA_KEYS: dict[str, tuple[tuple[type, ...], Any]] = {
    "dataset": ((str,), None),
    "roots": ((dict,), {}),
    "options": ((dict,), {}),
    "extra_train": ((list,), []),
    "train_datasets": ((list,), []),
    "synthetic": ((str,), ""),
    "label_scheme": ((str,), "3class"),
    "flow_method": ((str,), "tvl1"),
    "flow_normalize": ((str,), "minmax"),
    "feature_cache": ((str,), ""),
    "preload": ((bool,), False),
    "crop": ((str,), "auto"),
    "crop_size": ((int,), 0),
    "crop_cache": ((str,), ""),
    "allow_partial": ((bool,), False),
    "augment": ((dict,), {}),
}
AUGMENT_KEYS: dict[str, tuple[tuple[type, ...], Any]] = {
    "enabled": ((bool,), True),
    "rotate": (_NUM, 10.0),
    "jitter": (_NUM, 0.2),
    "resize_ratio": (_NUM, 256.0 / 224.0),
    "hflip": (_NUM, 0.0),
}
PROTOCOL_KEYS: dict[str, tuple[tuple[type, ...], Any]] = {
    "mode": ((str,), "real"),
    "cv": ((str,), "kfold"),
    "k": ((int,), 5),
    "seed": ((int,), 0),
    "repeats": ((int,), 3),
    "val_fraction": (_NUM, 0.0),
}
TRAIN_KEYS: dict[str, tuple[tuple[type, ...], Any]] = {
    "schedule": ((str,), None),
    "epochs": ((int,), None),
    "decay_epochs": ((int,), None),
    "batch_size": ((int,), 32),
    "eval_batch_size": ((int,), 64),
    "lr": (_NUM, 1e-4),
    "weight_decay": (_NUM, 5e-4),
    "clip": (_NUM, 1.0),
    "augment": ((bool,), True),
    "workers": ((int,), 0),
    "threads": ((int,), 0),
    "device": ((str,), "auto"),
    "amp": ((bool,), False),
    "keep_checkpoints": ((bool,), True),
    "checkpoint_every": ((int,), 1),
    "parallel_folds": ((int,), 1),
}
EXPERIMENT_KEYS: dict[str, tuple[tuple[type, ...], Any]] = {"name": ((str,), ""), "description": ((str,), "")}
SECTIONS = ("experiment", "data", "model", "protocol", "train", "pretrain", "sweep")
#: Keys that change how a run executes, not its results (a resumed run may change them).
RUNTIME_KEYS = {
    "experiment": {"name", "description"},
    "data": {"feature_cache", "preload", "crop_cache"},
    "train": {"workers", "threads", "device", "eval_batch_size", "keep_checkpoints", "checkpoint_every",
              "parallel_folds"},
    "pretrain": {"workers", "threads", "device", "eval_batch_size", "keep_checkpoints", "checkpoint_every",
                 "parallel_folds"},
}


@dataclass
class ExperimentConfig:
    """A validated experiment config: ``raw`` holds every section with defaults filled in."""

    raw: dict[str, Any]
    source: str = "<config>"

    @property
    def data(self) -> dict[str, Any]:
        return self.raw["data"]

    @property
    def model(self) -> dict[str, Any]:
        return self.raw["model"]

    @property
    def protocol(self) -> dict[str, Any]:
        return self.raw["protocol"]

    @property
    def train(self) -> dict[str, Any]:
        return self.raw["train"]

    @property
    def pretrain(self) -> dict[str, Any]:
        return self.raw.get("pretrain", {})

    @property
    def sweep(self) -> dict[str, list]:
        return self.raw.get("sweep", {})

    @property
    def mode(self) -> str:
        return self.protocol["mode"]

    def to_toml(self) -> str:
        return dump_toml(self.raw)

    def content(self) -> dict[str, Any]:
        """The config without runtime keys (what must match to resume a run)."""
        out = copy.deepcopy(self.raw)
        for section, keys in RUNTIME_KEYS.items():
            for key in keys:
                out.get(section, {}).pop(key, None)
        out.pop("experiment", None)
        return out


# --------------------------------------------------------------------------- loading
def _toml_module():
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    file = Path(path)
    tomllib = _toml_module()
    try:
        with file.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise MiexError(f"{file}: experiment config not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise MiexError(f"{file}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise MiexError(f"{file}: cannot read: {exc.strerror or exc}") from None


def parse_value(text: str) -> Any:
    """A ``--set`` value: TOML (``3``, ``1e-4``, ``true``, ``["a", "b"]``, ``"x"``) or a bare string."""
    tomllib = _toml_module()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str], source: str) -> dict[str, Any]:
    """Apply ``section.key[.sub]=value`` overrides to a raw config dict (copy)."""
    out = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise MiexError(f"--set {item!r}: expected section.key=value")
        key, text = item.split("=", 1)
        set_path(out, key.strip(), parse_value(text.strip()), f"--set {key.strip()}")
    return out


def set_path(raw: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    parts = [p for p in dotted.split(".") if p]
    if len(parts) < 2 or parts[0] not in SECTIONS:
        raise MiexError(f"{where}: keys are section.key with section one of {', '.join(SECTIONS)}, got {dotted!r}")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise MiexError(f"{where}: {part!r} is not a table")
        node = child
    node[parts[-1]] = value


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read, override and validate an experiment config (a ``[sweep]`` is kept, not expanded)."""
    raw = apply_overrides(read_toml(path), overrides, str(path))
    return validate(raw, str(path))


def config_from_dict(raw: Mapping[str, Any], source: str = "<config>") -> ExperimentConfig:
    return validate(copy.deepcopy(dict(raw)), source)


# --------------------------------------------------------------------------- validation
def _check(value: Any, types: tuple[type, ...], where: str) -> Any:
    if isinstance(value, bool) and bool not in types:
        raise MiexError(f"{where} must be {_describe(types)}, got {value!r}")
    if not isinstance(value, types):
        raise MiexError(f"{where} must be {_describe(types)}, got {value!r}")
    if types == _NUM:
        return float(value)
    return value


def _describe(types: tuple[type, ...]) -> str:
    if types == _NUM:
        return "a number"
    names = {str: "a string", int: "an integer", bool: "true or false", dict: "a table", list: "a list"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _section(raw: dict, name: str, keys: dict, source: str, *, required: Sequence[str] = ()) -> dict[str, Any]:
    given = raw.get(name, {})
    if not isinstance(given, dict):
        raise MiexError(f"{source}: [{name}] must be a table")
    unknown = sorted(set(given) - set(keys))
    if unknown:
        raise MiexError(f"{source}: unknown key [{name}] {unknown[0]}; known keys: {', '.join(keys)}")
    out = {}
    for key, (types, default) in keys.items():
        if key in given:
            out[key] = _check(given[key], types, f"{source}: [{name}] {key}")
        elif key in required:
            raise MiexError(f"{source}: [{name}] {key} is required")
        else:
            out[key] = copy.deepcopy(default)
    return out


def _positive(section: dict, keys: Sequence[str], name: str, source: str, *, zero_ok: Sequence[str] = ()) -> None:
    for key in keys:
        value = section.get(key)
        if value is None:
            continue
        if value < 0 or (value == 0 and key not in zero_ok):
            raise MiexError(f"{source}: [{name}] {key} must be {'>= 0' if key in zero_ok else '> 0'}, got {value}")


def _train_section(raw: dict, name: str, source: str, mode: str, inherit: dict | None = None) -> dict[str, Any]:
    sec = _section(raw, name, TRAIN_KEYS, source)
    given = raw.get(name, {})
    if inherit is not None:  # [pretrain]: unset keys come from [train] (but not the schedule)
        for key in TRAIN_KEYS:
            if key not in given and key not in ("schedule", "epochs", "decay_epochs"):
                sec[key] = inherit[key]
    from miex.train.modes import get_mode

    default_schedule = "synthetic" if name == "pretrain" else get_mode(mode).default_schedule
    schedule = sec["schedule"] or default_schedule
    if schedule not in SCHEDULES:
        raise MiexError(f"{source}: [{name}] schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    sec["schedule"] = schedule
    preset = SCHEDULES[schedule]
    if preset is None and sec["epochs"] is None:
        raise MiexError(f"{source}: [{name}] schedule = \"custom\" needs epochs")
    if sec["epochs"] is None:
        sec["epochs"] = preset[0] if preset else 0
    if sec["decay_epochs"] is None:
        sec["decay_epochs"] = preset[1] if preset else 0
    _positive(sec, ["batch_size", "eval_batch_size", "lr", "checkpoint_every", "parallel_folds"], name, source)
    _positive(sec, ["epochs", "decay_epochs", "weight_decay", "clip", "workers", "threads"], name, source,
              zero_ok=["epochs", "decay_epochs", "weight_decay", "clip", "workers", "threads"])
    if sec["epochs"] + sec["decay_epochs"] < 1:
        raise MiexError(f"{source}: [{name}] needs at least one epoch (epochs + decay_epochs)")
    device = sec["device"].strip().lower()
    if device not in ("auto", "cpu", "cuda") and not re.fullmatch(r"cuda:\d+", device):
        raise MiexError(f"{source}: [{name}] device must be auto, cpu or cuda, got {sec['device']!r}")
    return sec


def validate(raw: dict[str, Any], source: str = "<config>") -> ExperimentConfig:
    """Check every section and key; fill defaults. Raises MiexError naming ``source`` and the key."""
    from miex.train.modes import MODES
    from miex.train.protocols import CV_KINDS

    if not isinstance(raw, dict):
        raise MiexError(f"{source}: a config is a TOML table")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise MiexError(f"{source}: unknown section [{unknown[0]}]; sections: {', '.join(SECTIONS)}")
    out: dict[str, Any] = {"experiment": _section(raw, "experiment", EXPERIMENT_KEYS, source)}
    data = _section(raw, "data", DATA_KEYS, source, required=["dataset"])
    data["augment"] = _section({"augment": data["augment"]}, "augment", AUGMENT_KEYS, f"{source}: [data]")
    _validate_data(data, source)
    out["data"] = data
    out["model"] = _validate_model(raw.get("model"), source)
    protocol = _section(raw, "protocol", PROTOCOL_KEYS, source)
    if protocol["mode"] not in MODES:
        raise MiexError(f"{source}: [protocol] mode must be one of {', '.join(MODES)}, got {protocol['mode']!r}")
    if protocol["cv"] not in CV_KINDS:
        raise MiexError(f"{source}: [protocol] cv must be one of {', '.join(CV_KINDS)}, got {protocol['cv']!r}")
    if protocol["cv"] == "kfold" and protocol["k"] < 2:
        raise MiexError(f"{source}: [protocol] k must be >= 2, got {protocol['k']}")
    if protocol["repeats"] < 1:
        raise MiexError(f"{source}: [protocol] repeats must be >= 1, got {protocol['repeats']}")
    if not 0.0 <= protocol["val_fraction"] < 1.0:
        raise MiexError(f"{source}: [protocol] val_fraction must be in [0, 1), got {protocol['val_fraction']}")
    if protocol["cv"] == "cross_dataset":
        if not data["train_datasets"]:
            raise MiexError(f"{source}: [protocol] cv = \"cross_dataset\" needs [data] train_datasets = [\"<name>\", ...] "
                            "(the test set is [data] dataset)")
        if data["dataset"] in data["train_datasets"]:
            raise MiexError(f"{source}: [data] train_datasets must not include the test set {data['dataset']!r}")
    elif data["train_datasets"]:
        raise MiexError(f"{source}: [data] train_datasets applies to [protocol] cv = \"cross_dataset\" only "
                        "(use extra_train to add training data to every fold)")
    out["protocol"] = protocol
    mode = protocol["mode"]
    if mode in ("direct", "pretrain_finetune") and not data["synthetic"]:
        raise MiexError(f"{source}: [protocol] mode = \"{mode}\" needs [data] synthetic = \"<miex synth folder>\"")
    out["train"] = _train_section(raw, "train", source, mode)
    # [pretrain] is validated in every mode (a sweep may switch modes) but used only here
    pretrain = _train_section(raw, "pretrain", source, mode, inherit=out["train"])
    if mode == "pretrain_finetune" or "pretrain" in raw:
        out["pretrain"] = pretrain
    sweep = raw.get("sweep", {})
    if sweep:
        out["sweep"] = _validate_sweep(sweep, raw, source)
    return ExperimentConfig(out, source)


def _validate_data(data: dict[str, Any], source: str) -> None:
    from miex.datasets import canonical_name

    try:
        data["dataset"] = canonical_name(data["dataset"])
        data["extra_train"] = [canonical_name(str(n)) for n in data["extra_train"]]
        data["train_datasets"] = [canonical_name(str(n)) for n in data["train_datasets"]]
    except MiexError as exc:
        raise MiexError(f"{source}: [data] {exc}") from None
    if data["dataset"] == "miex":
        raise MiexError(f"{source}: [data] dataset is the real evaluation dataset; put MiE-X sets in [data] synthetic")
    from miex.datasets import DATASETS
    from miex.datasets.base import LABEL_SCHEMES

    schemes = dict.fromkeys([*LABEL_SCHEMES, *(s for cls in DATASETS.values() for s in cls.EXTRA_SCHEMES)])
    if data["label_scheme"] not in schemes:
        raise MiexError(f"{source}: [data] label_scheme must be one of {', '.join(schemes)}, got {data['label_scheme']!r}")
    from miex.features import METHODS

    if data["flow_method"] not in METHODS:
        raise MiexError(f"{source}: [data] flow_method must be one of {', '.join(METHODS)}, got {data['flow_method']!r}")
    from miex.preprocess import CROP_CHOICES

    if data["crop"] not in CROP_CHOICES:
        raise MiexError(f"{source}: [data] crop must be one of {', '.join(CROP_CHOICES)}, got {data['crop']!r}")
    if data["crop_size"] != 0 and data["crop_size"] < 8:
        raise MiexError(f"{source}: [data] crop_size must be 0 (the model's input size) or >= 8, got {data['crop_size']}")
    if data["flow_normalize"] not in ("minmax", "none"):
        raise MiexError(f"{source}: [data] flow_normalize must be minmax or none, got {data['flow_normalize']!r}")
    for key, value in data["roots"].items():
        if not isinstance(value, str) or not value:
            raise MiexError(f"{source}: [data.roots] {key} must be a path string")
    aug = data["augment"]
    if not 0 <= aug["rotate"] <= 180 or not 0 <= aug["jitter"] < 1 or aug["resize_ratio"] < 1 or not 0 <= aug["hflip"] <= 1:
        raise MiexError(f"{source}: [data.augment] needs 0 <= rotate <= 180, 0 <= jitter < 1, resize_ratio >= 1, "
                        "0 <= hflip <= 1")


def _validate_model(given: Any, source: str) -> dict[str, Any]:
    from miex.models import model_options
    from miex.models.registry import _lookup

    if not isinstance(given, dict) or "name" not in given:
        raise MiexError(f"{source}: [model] name is required (one of the miex.models names)")
    model = dict(given)
    if not isinstance(model["name"], str):
        raise MiexError(f"{source}: [model] name must be a string")
    try:
        model["name"] = _lookup(model["name"])[0]
        options = model_options(model["name"])
    except MiexError as exc:
        raise MiexError(f"{source}: [model] {exc}") from None
    weights = model.get("backbone_weights", "")
    if not isinstance(weights, str):
        raise MiexError(f"{source}: [model] backbone_weights must be a path string")
    model["backbone_weights"] = weights
    init = model.get("init_weights", "")
    if not isinstance(init, str):
        raise MiexError(f"{source}: [model] init_weights must be a path string")
    model["init_weights"] = init
    if weights and "pretrained_backbone" not in options:
        raise MiexError(f"{source}: [model] backbone_weights: model {model['name']!r} has no ResNet backbone")
    for key in model:
        if key in ("name", "backbone_weights", "init_weights"):
            continue
        if key in ("num_classes", "pretrained_backbone") or key not in options:
            known = [k for k in options if k not in ("num_classes", "pretrained_backbone")]
            raise MiexError(f"{source}: unknown key [model] {key} for model {model['name']!r}; options: {', '.join(known)}")
        model[key] = _check_option(model[key], options[key], f"{source}: [model] {key}")
    return model


def _check_option(value: Any, default: Any, where: str) -> Any:
    """A model option checked against the type of its default (before any run folder exists):
    ``image_size = "224"`` is refused here, not deep inside the first fold."""
    if default is None or default is inspect.Parameter.empty:
        return value
    if isinstance(default, bool):
        return _check(value, (bool,), where)
    if isinstance(default, int):
        return _check(value, (int,), where)
    if isinstance(default, float):
        return _check(value, _NUM, where)
    if isinstance(default, str):
        return _check(value, (str,), where)
    if isinstance(default, (tuple, list)):
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            raise MiexError(f"{where} must be a list of {len(default)} values like {list(default)}, got {value!r}")
        return type(default)(_check_option(v, d, f"{where}[{i}]") for i, (v, d) in enumerate(zip(value, default)))
    return value



def _validate_sweep(sweep: Any, raw: dict, source: str) -> dict[str, list]:
    if not isinstance(sweep, dict):
        raise MiexError(f"{source}: [sweep] must be a table of \"section.key\" = [values]")
    out: dict[str, list] = {}
    for key, values in _flatten(sweep).items():
        if not isinstance(values, list) or not values:
            raise MiexError(f"{source}: [sweep] {key} must be a non-empty list of values")
        section = key.split(".", 1)[0]
        if section not in SECTIONS or section == "sweep" or "." not in key:
            raise MiexError(f"{source}: [sweep] {key}: keys are \"section.key\" (e.g. \"data.synthetic\")")
        out[key] = values
    # every combination must validate on its own
    for combo in sweep_combinations(out):
        child = copy.deepcopy(raw)
        child.pop("sweep", None)
        for key, value in combo.items():
            set_path(child, key, value, f"{source}: [sweep] {key}")
        validate(child, source)
    return out


def _flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, full + "."))
        else:
            out[full] = value
    return out


# --------------------------------------------------------------------------- sweeps
def sweep_combinations(sweep: Mapping[str, list]) -> list[dict[str, Any]]:
    """The cartesian product of the sweep lists, in key order (first key slowest)."""
    keys = list(sweep)
    return [dict(zip(keys, values)) for values in itertools.product(*(sweep[k] for k in keys))]


def _slug(value: Any) -> str:
    text = Path(value).name if isinstance(value, str) and ("/" in value or os.sep in value) else str(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-")[:40] or "x"


def expand_sweep(config: ExperimentConfig) -> list[tuple[str, ExperimentConfig]]:
    """``[("", config)]`` without a sweep, else one ``(run name, config)`` per combination;
    run names are ``NN_<key>=<value>...`` (the values' last path parts for paths)."""
    if not config.sweep:
        return [("", config)]
    runs = []
    for i, combo in enumerate(sweep_combinations(config.sweep)):
        raw = copy.deepcopy(config.raw)
        raw.pop("sweep", None)
        for key, value in combo.items():
            set_path(raw, key, value, f"{config.source}: [sweep] {key}")
        name = f"{i:02d}_" + "_".join(f"{k.split('.')[-1]}={_slug(v)}" for k, v in combo.items())
        runs.append((name, validate(_raw_input(raw), config.source)))
    return runs


def _raw_input(resolved: dict[str, Any]) -> dict[str, Any]:
    """A resolved config as validator input (the schedule presets are already applied)."""
    return copy.deepcopy(resolved)


# --------------------------------------------------------------------------- TOML output
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if any(c in text for c in ".einf") else text + ".0"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    if value is None:
        raise MiexError("TOML has no null value")
    return _toml_value(str(value))


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def dump_toml(raw: Mapping[str, Any]) -> str:
    """Write a config dict (sections of scalars, lists and inline tables) as TOML."""
    lines: list[str] = []
    for section, table in raw.items():
        if not isinstance(table, dict):
            continue
        lines.append(f"[{section}]")
        for key, value in table.items():
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- dry run
def dry_run(config: ExperimentConfig) -> pd.DataFrame:
    """The folds of every run of ``config`` (every sweep combination) with their sizes.

    Columns: ``run`` (sweep run name, "" without a sweep), ``repeat``, ``fold``,
    ``train_samples``/``train_subjects`` (real training rows, before adding ``extra``),
    ``val_*``, ``test_*``, ``extra_samples`` (extra real training rows), ``synthetic_samples``
    (MiE-X rows used in this fold's training after the leakage exclusion),
    ``synthetic_excluded`` (rows removed because their AUs came from this fold's test or
    validation subjects) and ``pretrain`` (shared | per_fold | "").
    Loads the datasets' annotations (no frames are decoded)."""
    from miex.train.plan import build_plan

    tables, notes = [], []
    for name, cfg in expand_sweep(config):
        plan = build_plan(cfg, preprocess=False, log=notes.append)
        table = plan.fold_table()
        table.insert(0, "run", name)
        tables.append(table)
    out = pd.concat(tables, ignore_index=True)
    out.attrs["notes"] = notes
    return out
