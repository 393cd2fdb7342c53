"""MA2MI pre-training configs (TOML), validated with one-line errors naming the file.

Every key has a default; a config file only lists what it changes::

    [data]
    videos = ["/data/my_recordings"]   # folders of videos / frame folders (miex synth --frames clip too)
    datasets = ["ckplus", "oulu", "mmew"]   # NAME or NAME=ROOT; mmew reads its macro part
    crop_method = "meb"                # meb | mie-x (miex.datasets.crops); meb = what `miex train`'s
                                       # [data] crop = "auto" gives raw recordings (miex.preprocess)
    margin = 0.2                       # optional; default: the crop method's margin
    upsample = 1                       # dlib detector upsampling (faces down to ~40 px at 1)
    min_frames = 4                     # shorter clips are skipped (at least k_min + 1 is enforced)
    max_frames = 300                   # frames kept from the start of each video
    stride = 1                         # keep every stride-th video frame
    cache_dir = ""                     # crop cache; default $MIEX_CACHE_DIR/crops or ~/.cache/miex/crops

    [model]                            # the MIACNet whose encoders are pre-trained
    size = 112                         # crop / input size (the fine-tuning image_size must match)
    width = 64                         # ResNet-18 trunk width (64 = ResNet-18; fine-tuning must match)

    [ma2mi]
    k_min = 1                          # future offset k drawn uniformly from [k_min, k_max] frames
    k_max = 4
    pairs_per_clip = 8                 # (t, t+k) draws per clip and epoch
    predictor_width = 0                # predictor channels (0: the encoder's 8 * width)
    ema = 0.996                        # target-encoder momentum at the start (cosine to 1)
    hflip = 0.5                        # probability of mirroring a whole sample
    pixel_decoder = false              # also train a decoder on the (detached) predictions

    [train]
    epochs = 20
    batch_size = 32                    # per process under torchrun
    lr = 3e-4                          # AdamW, cosine decay to lr * min_lr_ratio over all steps
    min_lr_ratio = 0.1
    weight_decay = 0.05
    clip = 1.0                         # gradient-norm clip; 0 disables
    seed = 0
    workers = 0                        # DataLoader worker processes
    threads = 0                        # torch threads (0: torch's default)
    device = "auto"                    # auto | cpu | cuda
    amp = true                         # bfloat16 autocast, on CUDA only
    checkpoint_every = 1               # epochs between resume checkpoints (the last is always saved)
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from miex.errors import MiexError

_NUM = (int, float)
#: section -> key -> (accepted types, default)
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "data": {
        "videos": ((list,), []),
        "datasets": ((list,), []),
        "crop_method": ((str,), "meb"),
        "margin": (_NUM, None),
        "upsample": ((int,), 1),
        "min_frames": ((int,), 4),
        "max_frames": ((int,), 300),
        "stride": ((int,), 1),
        "cache_dir": ((str,), ""),
    },
    "model": {"size": ((int,), 112), "width": ((int,), 64)},
    "ma2mi": {
        "k_min": ((int,), 1),
        "k_max": ((int,), 4),
        "pairs_per_clip": ((int,), 8),
        "predictor_width": ((int,), 0),
        "ema": (_NUM, 0.996),
        "hflip": (_NUM, 0.5),
        "pixel_decoder": ((bool,), False),
    },
    "train": {
        "epochs": ((int,), 20),
        "batch_size": ((int,), 32),
        "lr": (_NUM, 3e-4),
        "min_lr_ratio": (_NUM, 0.1),
        "weight_decay": (_NUM, 0.05),
        "clip": (_NUM, 1.0),
        "seed": ((int,), 0),
        "workers": ((int,), 0),
        "threads": ((int,), 0),
        "device": ((str,), "auto"),
        "amp": ((bool,), True),
        "checkpoint_every": ((int,), 1),
    },
}
#: keys that change how a run executes, not what it computes (a resumed run may change them)
RUNTIME_KEYS = {"data": {"cache_dir"}, "train": {"workers", "threads", "device", "checkpoint_every"}}


@dataclass
class PretrainConfig:
    """A validated config: ``raw`` holds every section with its defaults filled in."""

    raw: dict[str, Any]
    source: str = "<config>"

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.raw[section]

    def content(self) -> dict[str, Any]:
        """What must match for a run to resume (runtime keys removed)."""
        out = copy.deepcopy(self.raw)
        for section, keys in RUNTIME_KEYS.items():
            for key in keys:
                out[section].pop(key, None)
        return out

    def to_toml(self) -> str:
        from miex.train.experiment import dump_toml

        raw = copy.deepcopy(self.raw)
        if raw["data"]["margin"] is None:
            del raw["data"]["margin"]
        return dump_toml(raw)


def _type_name(types: tuple[type, ...]) -> str:
    return "number" if types == _NUM else " or ".join(t.__name__ for t in types)


def _fill(section: str, given: Mapping[str, Any], source: str) -> dict[str, Any]:
    schema = SCHEMA[section]
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise MiexError(f"{source}: [{section}] unknown key(s) {', '.join(unknown)}; known: {', '.join(schema)}")
    out = {}
    for key, (types, default) in schema.items():
        value = given.get(key, default)
        if value is not None and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
            raise MiexError(f"{source}: [{section}] {key} must be a {_type_name(types)}, got {value!r}")
        out[key] = copy.deepcopy(value)
    return out


def _check_values(raw: dict[str, Any], source: str) -> None:
    d, m, a, t = raw["data"], raw["model"], raw["ma2mi"], raw["train"]

    def bad(where: str, message: str) -> MiexError:
        return MiexError(f"{source}: {where} {message}")

    for key in ("videos", "datasets"):
        if not all(isinstance(v, str) and v for v in d[key]):
            raise bad(f"[data] {key}", "must be a list of non-empty strings")
    if d["crop_method"] not in ("mie-x", "meb"):
        raise bad("[data] crop_method", f"must be mie-x or meb, got {d['crop_method']!r}")
    if m["size"] < 32:
        raise bad("[model] size", f"must be >= 32 (MIACNet's ResNet-18 trunks), got {m['size']}")
    if m["width"] < 1:
        raise bad("[model] width", f"must be a positive integer, got {m['width']}")
    if not 1 <= a["k_min"] <= a["k_max"]:
        raise bad("[ma2mi] k_min/k_max", f"need 1 <= k_min <= k_max, got {a['k_min']} and {a['k_max']}")
    if a["pairs_per_clip"] < 1 or a["predictor_width"] < 0:
        raise bad("[ma2mi]", "pairs_per_clip must be >= 1 and predictor_width >= 0")
    if not 0.0 <= a["ema"] < 1.0:
        raise bad("[ma2mi] ema", f"must be in [0, 1), got {a['ema']}")
    if not 0.0 <= a["hflip"] <= 1.0:
        raise bad("[ma2mi] hflip", f"must be in [0, 1], got {a['hflip']}")
    positive = ("epochs", "batch_size", "checkpoint_every")
    for key in positive:
        if t[key] < 1:
            raise bad(f"[train] {key}", f"must be >= 1, got {t[key]}")
    if t["lr"] <= 0 or t["weight_decay"] < 0 or t["clip"] < 0 or not 0 <= t["min_lr_ratio"] <= 1:
        raise bad("[train]", "needs lr > 0, weight_decay >= 0, clip >= 0 and min_lr_ratio in [0, 1]")
    if t["workers"] < 0 or t["threads"] < 0:
        raise bad("[train]", "workers and threads must be >= 0")
    if t["device"].strip().lower() not in ("auto", "cpu", "cuda") and not t["device"].startswith("cuda:"):
        raise bad("[train] device", f"must be auto, cpu or cuda, got {t['device']!r}")


def validate(raw: Mapping[str, Any], source: str = "<config>") -> PretrainConfig:
    """Fill defaults and check every key -> :class:`PretrainConfig`; MiexError naming ``source``."""
    unknown = sorted(set(raw) - set(SCHEMA))
    if unknown:
        raise MiexError(f"{source}: unknown section(s) {', '.join(unknown)}; known: {', '.join(SCHEMA)}")
    out = {}
    for section in SCHEMA:
        given = raw.get(section, {})
        if not isinstance(given, Mapping):
            raise MiexError(f"{source}: [{section}] must be a table")
        out[section] = _fill(section, given, source)
    _check_values(out, source)
    return PretrainConfig(out, source)


def load_config(path: str | os.PathLike[str] | None, overrides: Mapping[str, Mapping[str, Any]] | None = None,
                sets: Sequence[str] = ()) -> PretrainConfig:
    """Read ``path`` (TOML; None: all defaults), apply ``overrides`` ({section: {key: value}},
    from command-line options) and ``sets`` (``section.key=value`` strings), then validate."""
    from miex.train.experiment import parse_value, read_toml

    source = str(path) if path is not None else "<defaults>"
    raw: dict[str, Any] = copy.deepcopy(read_toml(path)) if path is not None else {}
    for item in sets:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) != 2 or parts[0] not in SCHEMA:
            raise MiexError(f"--set {item!r}: expected section.key=value with section one of {', '.join(SCHEMA)}")
        raw.setdefault(parts[0], {})[parts[1]] = parse_value(text.strip())
    for section, values in (overrides or {}).items():
        for key, value in values.items():
            if value is not None:
                raw.setdefault(section, {})[key] = value
    return validate(raw, source)


__all__ = ["PretrainConfig", "RUNTIME_KEYS", "SCHEMA", "load_config", "validate"]
