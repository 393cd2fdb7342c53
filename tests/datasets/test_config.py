"""Dataset roots: config file, $MIEX_CONFIG, $XDG_CONFIG_HOME, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from miex.datasets import Casme2, load_dataset
from miex.datasets.config import config_path, get_root, load_roots, root_settings
from miex.errors import MiexError


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_default_location_under_xdg(isolated_config, tmp_path):
    assert config_path() == isolated_config / "miex" / "datasets.toml"
    _write(config_path(), f'[roots]\ncasme2 = "{tmp_path / "c2"}"\n')
    roots = load_roots()
    assert roots["casme2"] == tmp_path / "c2"
    assert roots["samm"] is None


def test_home_default_without_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_path() == tmp_path / ".config" / "miex" / "datasets.toml"


def test_miex_config_and_env_override(monkeypatch, tmp_path, trees):
    cfg = _write(
        tmp_path / "my.toml",
        f'[roots]\ncasme2 = "{trees["casme2"].root}"\nsamm = "relative/samm"\n"ck+" = "~/ck"\n',
    )
    monkeypatch.setenv("MIEX_CONFIG", str(cfg))
    settings = root_settings()
    assert settings["casme2"].path == trees["casme2"].root and settings["casme2"].source == f"config {cfg}"
    assert settings["samm"].path == tmp_path / "relative" / "samm"  # relative to the config file
    assert settings["ckplus"].path == Path("~/ck").expanduser()
    assert len(Casme2()) == len(Casme2(trees["casme2"].root))  # root from the config
    monkeypatch.setenv("MIEX_SAMM_ROOT", str(trees["samm"].root))
    assert get_root("samm") == trees["samm"].root
    assert root_settings()["samm"].source == "env MIEX_SAMM_ROOT"
    assert len(load_dataset("samm")) > 0
    monkeypatch.setenv("MIEX_CASME2_ROOT", str(tmp_path / "elsewhere"))
    with pytest.raises(MiexError, match="elsewhere"):
        Casme2()


def test_explicit_config_argument(tmp_path):
    cfg = _write(tmp_path / "a.toml", '[roots]\noulu = "/data/oulu"\n')
    assert load_roots(cfg)["oulu"] == Path("/data/oulu")
    with pytest.raises(MiexError, match="config file not found"):
        load_roots(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    "text, message",
    [
        ("[roots\ncasme2 = 1", "invalid TOML"),
        ('[roots]\ncasme9 = "/x"\n', "unknown dataset 'casme9'"),
        ("[roots]\ncasme2 = 3\n", "non-empty path string"),
        ('roots = "x"\n', r"\[roots\] must be a table"),
    ],
)
def test_bad_config_names_the_file(tmp_path, text, message):
    cfg = _write(tmp_path / "bad.toml", text)
    with pytest.raises(MiexError, match=message) as err:
        load_roots(cfg)
    assert "bad.toml" in str(err.value)


def test_unconfigured_root_message_names_both_ways(isolated_config):
    with pytest.raises(MiexError) as err:
        get_root("smic")
    assert "MIEX_SMIC_ROOT" in str(err.value) and "datasets.toml" in str(err.value)
