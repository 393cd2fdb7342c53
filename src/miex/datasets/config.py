"""Where the user's dataset copies live, configured once.

The config file is TOML with one section::

    [roots]
    casme2 = "/data/CASME2"
    samm = "~/datasets/SAMM"
    smic = "/data/SMIC"          # the folder holding HS/
    mmew = "/data/MMEW"
    ckplus = "/data/CK+"
    oulu = "/data/Oulu-CASIA"
    casme3 = "/data/CASME3"      # the folder holding part_A/ (annotation/ and data/)
    4dme = "/data/4DME"          # the folder holding the label file and gray_micro/

Its path is ``--config FILE`` where a command offers it, else ``$MIEX_CONFIG``, else
``$XDG_CONFIG_HOME/miex/datasets.toml``, else ``~/.config/miex/datasets.toml``. Relative roots are
relative to the config file. Environment variables ``MIEX_CASME2_ROOT``, ``MIEX_SAMM_ROOT``,
``MIEX_SMIC_ROOT``, ``MIEX_MMEW_ROOT``, ``MIEX_CKPLUS_ROOT``, ``MIEX_OULU_ROOT``, ``MIEX_CASME3_ROOT``,
``MIEX_4DME_ROOT`` override the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from miex.errors import MiexError

#: Datasets whose roots are configured (in ``miex datasets check`` order).
ROOT_NAMES: tuple[str, ...] = ("casme2", "samm", "smic", "mmew", "ckplus", "oulu", "casme3", "4dme")
#: Other spellings accepted in the config file.
ALIASES: dict[str, str] = {
    "casme_ii": "casme2",
    "casmeii": "casme2",
    "smic_hs": "smic",
    "smic-hs": "smic",
    "ck+": "ckplus",
    "ck": "ckplus",
    "oulu_casia": "oulu",
    "oulu-casia": "oulu",
    "cas(me)3": "casme3",
    "casme_3": "casme3",
    "fourdme": "4dme",
}


@dataclass(frozen=True)
class RootSetting:
    name: str
    path: Path | None
    source: str  # "env MIEX_CASME2_ROOT", "config <file>", "argument" or "not configured"


def env_var(name: str) -> str:
    return f"MIEX_{name.upper()}_ROOT"


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file in effect (it need not exist)."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("MIEX_CONFIG"):
        return Path(os.environ["MIEX_CONFIG"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "miex" / "datasets.toml"


def _load_toml(path: Path) -> dict:
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise MiexError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise MiexError(f"{path}: cannot read config: {exc.strerror or exc}") from None


def read_config(path: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Roots from the config file only (no environment); ``{}`` when the file does not exist."""
    file = config_path(path)
    if not file.is_file():
        if path is not None:
            raise MiexError(f"{file}: config file not found")
        return {}
    data = _load_toml(file)
    roots = data.get("roots", {})
    if not isinstance(roots, dict):
        raise MiexError(f"{file}: [roots] must be a table of name = \"path\" entries")
    out: dict[str, Path] = {}
    for name, value in roots.items():
        key = ALIASES.get(str(name).lower(), str(name).lower())
        if key not in ROOT_NAMES:
            raise MiexError(f"{file}: unknown dataset {name!r} in [roots]; expected one of {', '.join(ROOT_NAMES)}")
        if not isinstance(value, str) or not value.strip():
            raise MiexError(f"{file}: [roots] {name} must be a non-empty path string")
        root = Path(value).expanduser()
        out[key] = root if root.is_absolute() else (file.parent / root)
    return out


def root_settings(config: str | os.PathLike[str] | None = None) -> dict[str, RootSetting]:
    """Every dataset's root and where it came from (environment beats the config file)."""
    file = config_path(config)
    from_file = read_config(config)
    out: dict[str, RootSetting] = {}
    for name in ROOT_NAMES:
        env = os.environ.get(env_var(name), "").strip()
        if env:
            out[name] = RootSetting(name, Path(env).expanduser(), f"env {env_var(name)}")
        elif name in from_file:
            out[name] = RootSetting(name, from_file[name], f"config {file}")
        else:
            out[name] = RootSetting(name, None, "not configured")
    return out


def load_roots(config: str | os.PathLike[str] | None = None) -> dict[str, Path | None]:
    """``{name: root or None}`` for every dataset in :data:`ROOT_NAMES`."""
    return {name: s.path for name, s in root_settings(config).items()}


def get_root(name: str, config: str | os.PathLike[str] | None = None) -> Path:
    """The configured root of one dataset; a clear :class:`MiexError` when none is configured."""
    key = name.lower()
    if key not in ROOT_NAMES:
        raise MiexError(f"no root setting for dataset {name!r}; configurable: {', '.join(ROOT_NAMES)}")
    setting = root_settings(config)[key]
    if setting.path is None:
        raise MiexError(
            f"no root configured for {key}: add `{key} = \"/path\"` under [roots] in {config_path(config)} "
            f"or set {env_var(key)}"
        )
    return setting.path
