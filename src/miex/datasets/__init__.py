"""Real micro/macro-expression datasets and miex's synthetic sets behind one interface.

>>> from miex.datasets import load_dataset
>>> ds = load_dataset("casme2")            # root from ~/.config/miex/datasets.toml or MIEX_CASME2_ROOT
>>> ds.samples.head()                      # dataset, subject, clip, label, native_label, onset, apex, ...
>>> sample = ds[0]                         # {"onset": (H, W, 3) uint8, "apex": ..., "label": 0, ...}
>>> ds.validate()                          # [Problem(dataset, clip, kind, message), ...]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from miex.datasets.base import (
    PROBLEM_KINDS,
    SAMPLE_COLUMNS,
    THREE_CLASSES,
    MiexDataset,
    Problem,
    frame_number,
    list_frames,
    natural_key,
    problems_frame,
    read_frame,
)
from miex.datasets.casme2 import Casme2
from miex.datasets.casme3 import Casme3
from miex.datasets.ckplus import CkPlus
from miex.datasets.fourdme import FourDME
from miex.datasets.config import ROOT_NAMES, config_path, get_root, load_roots, root_settings
from miex.datasets.megc2019 import EXPECTED_COUNTS, Megc2019Composite, counts_table, read_official_list
from miex.datasets.mmew import Mmew
from miex.datasets.oulu import OuluCasia
from miex.datasets.samm import Samm
from miex.datasets.smic import SmicHS
from miex.datasets.synthetic import MiexSynthetic
from miex.errors import MiexError

#: Registry: canonical name -> class.
DATASETS: dict[str, type[MiexDataset]] = {
    "casme2": Casme2,
    "samm": Samm,
    "smic": SmicHS,
    "mmew": Mmew,
    "ckplus": CkPlus,
    "oulu": OuluCasia,
    "casme3": Casme3,
    "4dme": FourDME,
    "megc2019": Megc2019Composite,
    "miex": MiexSynthetic,
}
ALIASES: dict[str, str] = {
    "casme_ii": "casme2",
    "casmeii": "casme2",
    "smic-hs": "smic",
    "smic_hs": "smic",
    "smichs": "smic",
    "ck+": "ckplus",
    "ck": "ckplus",
    "oulu-casia": "oulu",
    "oulu_casia": "oulu",
    "ouluasia": "oulu",
    "cas(me)3": "casme3",
    "cas(me)^3": "casme3",
    "casme^3": "casme3",
    "casme_3": "casme3",
    "fourdme": "4dme",
    "4d-me": "4dme",
    "composite": "megc2019",
    "compmie": "megc2019",
    "megc": "megc2019",
    "synthetic": "miex",
    "mie-x": "miex",
}


def canonical_name(name: str) -> str:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise MiexError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    return key


def load_dataset(name: str, root: str | Path | dict[str, Any] | None = None, **kw: Any) -> MiexDataset:
    """Construct a dataset by name (``casme2``, ``samm``, ``smic``, ``mmew``, ``ckplus``, ``oulu``,
    ``casme3``, ``4dme``, ``megc2019``, ``miex``). ``root=None`` uses the configured root. For ``megc2019``, ``root`` may
    be a dict ``{"casme2": ..., "samm": ..., "smic": ...}``; missing entries come from the config."""
    key = canonical_name(name)
    cls = DATASETS[key]
    if key == "megc2019":
        roots = dict(root) if isinstance(root, dict) else {}
        if root is not None and not isinstance(root, dict):
            raise MiexError("megc2019 takes a dict of roots {'casme2': ..., 'samm': ..., 'smic': ...}")
        return Megc2019Composite(
            casme2_root=roots.get("casme2"), samm_root=roots.get("samm"), smic_root=roots.get("smic"), **kw
        )
    if key == "miex" and root is None:
        raise MiexError("the miex synthetic dataset needs root= (a miex synth output folder)")
    return cls(root, **kw)


__all__ = [
    "ALIASES",
    "Casme2",
    "Casme3",
    "CkPlus",
    "DATASETS",
    "EXPECTED_COUNTS",
    "FourDME",
    "Megc2019Composite",
    "MiexDataset",
    "MiexSynthetic",
    "Mmew",
    "OuluCasia",
    "PROBLEM_KINDS",
    "Problem",
    "ROOT_NAMES",
    "SAMPLE_COLUMNS",
    "Samm",
    "SmicHS",
    "THREE_CLASSES",
    "canonical_name",
    "config_path",
    "counts_table",
    "frame_number",
    "get_root",
    "list_frames",
    "load_dataset",
    "load_roots",
    "natural_key",
    "problems_frame",
    "read_frame",
    "read_official_list",
    "root_settings",
]
